"""``connect`` runs through the same serve runner as ``serve``: SIGTERM and Ctrl-C let the call in
flight finish, then the process exits 0 (130 for Ctrl-C); its first log line names the event loop.

The real ``vertex-stdio connect`` process (raw stdio, so the signal and the exit status are ours to
see), a Vocci-shaped remote (tests/support/remote_mcp.py) and node-oidc-provider.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from oauth_server.harness import auth_server, node_ready
from stdio_server import Server
from test_connect import _env, remote, sign_in_once

from bridge import rpc

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]


def _progress(server: Server, timeout: float = 30.0) -> dict[str, Any] | None:
    """The first progress notification (the remote's ``slow`` reports one before it waits)."""
    while (message := server.next_message(timeout)) is not None:
        if message.get("method") == "notifications/progress":
            return message
    return None


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_mid_call_lets_the_call_finish_then_exits(
    browser: Path, tmp_path: Path, signum: int, status: int
) -> None:
    with auth_server(tmp_path) as as_server, remote(as_server.issuer, tmp_path) as url:
        anyio.run(sign_in_once, url, tmp_path)
        server = Server(_env(tmp_path, browser), tmp_path, args=("connect", url, "--name", "vocci"))
        try:
            server.initialize()
            call = {"name": "slow", "arguments": {"seconds": 2}, "_meta": {"progressToken": "p"}}
            server.send(rpc(7, "tools/call", call))
            assert _progress(server) is not None, server.diagnostics  # the call is in flight
            server.proc.send_signal(signum)
            answer = server.answers({7}, timeout=30)[7]
            assert server.proc.wait(timeout=30) == status, server.diagnostics
        finally:
            server.finish()
    assert answer["result"]["content"][0]["text"] == "done", answer
    name = signal.Signals(signum).name
    log = server.diagnostics
    assert f"{name}: finishing the calls in flight, then exiting" in log
    assert f"vertex-stdio connect exits ({'Ctrl-C' if name == 'SIGINT' else 'SIGTERM'})" in log
    assert "cancelled slow" not in (tmp_path / "remote.log").read_text()
    first = next(line for line in log.splitlines() if " serving " in line)
    assert url in first
    assert "event loop: " in first
    assert "Traceback" not in log
