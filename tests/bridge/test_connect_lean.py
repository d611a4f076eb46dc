"""``connect`` with the lean front: from its cache it answers the opening as the SDK does.

The remote (tests/support/remote_mcp.py with issuer ``none``) needs no sign-in.  The first run
fetches and caches the offer; the second serves from the cache through the SDK and keeps the
SDK's ``initialize`` answers for it; from the third the lean front answers.  Every run's answers
to the same opening must be the same, lean or not (``VERTEX_STDIO_LEAN=0``), with a tool filter
too; the call after the opening goes to the remote in every run.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from stdio_server import INIT, Server
from test_connect import remote

from bridge import process_env, rpc

pytestmark = pytest.mark.slow


def open_remote(tmp: Path) -> AbstractContextManager[str]:
    """The remote without OAuth or key; yields its MCP URL."""
    return remote("none", tmp)


def run(home: Path, url: str, lean: str, *args: str) -> tuple[list[dict[str, Any]], str]:
    """One ``connect`` run: the opening (sent at spawn), then one call; its answers and its log."""
    env = process_env(
        home, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEX_STDIO_LEAN=lean, VERTEXSMS_LOG_LEVEL="DEBUG"
    )
    log = Path(env["VERTEXSMS_LOG_DIR"]) / "vertex-stdio.log"
    log.unlink(missing_ok=True)
    server = Server(env, home, ("connect", url, *args))
    try:
        server.send(
            rpc(1, "initialize", INIT) + rpc(None, "notifications/initialized") + rpc(2, "tools/list")
        )
        server.send(rpc(3, "tools/call", {"name": "search", "arguments": {"query": "x"}}))
        found = server.answers({1, 2, 3}, timeout=60)
        assert server.close_stdin() < 15
        return [found[i] for i in (1, 2, 3)], server.diagnostics
    finally:
        server.finish()


def test_connect_answers_from_its_cache_before_the_sdk_as_the_sdk_does(tmp_path: Path) -> None:
    with open_remote(tmp_path) as url:
        first, _ = run(tmp_path, url, "1")  # fetches and caches the offer
        sdk, sdk_log = run(tmp_path, url, "1")  # served from the cache by the SDK; answers kept
        lean, lean_log = run(tmp_path, url, "1")
        off, off_log = run(tmp_path, url, "0")
        filtered, filtered_log = run(tmp_path, url, "1", "--exclude-tools", "slow")
        filtered_off, _ = run(tmp_path, url, "0", "--exclude-tools", "slow")
    names = [t["name"] for t in lean[1]["result"]["tools"]]
    assert "search" in names
    assert "slow" in names
    assert lean[:2] == sdk[:2] == off[:2]
    assert "the lean front answered" not in sdk_log
    assert "the lean front answered 2 requests" in lean_log
    assert "the lean front answered" not in off_log
    assert filtered[:2] == filtered_off[:2]
    assert "slow" not in [t["name"] for t in filtered[1]["result"]["tools"]]
    assert "the lean front answered 2 requests" in filtered_log
    for answer in (first[2], sdk[2], lean[2], off[2], filtered[2]):
        assert answer["result"]["isError"] is False, answer
    assert "refused what the lean front answered" not in lean_log + filtered_log
