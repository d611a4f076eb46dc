"""The real process with and without the lean front: the same answers, and it stops alike.

``VERTEX_STDIO_LEAN=0`` turns the front off (the SDK answers from the start): each opening is
sent to both processes at spawn, so the front (when on) answers it while the SDK loads, and the
answers must be the same; the tool call after them is the SDK's in both.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from stdio_server import INIT, Server

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

CALL = {"name": "correct_phone_number", "arguments": {"numbers": [{"number": "861860698", "country": "LT"}]}}


def _session(tmp_path: Path, lean: str, **env: str) -> tuple[list[dict[str, Any]], str]:
    home = tmp_path / f"lean-{lean}"
    home.mkdir()
    server = Server(
        process_env(home, VERTEXSMS_SANDBOX="1", VERTEX_STDIO_LEAN=lean, VERTEXSMS_LOG_LEVEL="DEBUG", **env),
        home,
    )
    try:
        server.send(
            rpc(1, "initialize", INIT)
            + rpc(None, "notifications/initialized")
            + rpc(2, "tools/list")
            + rpc(3, "tools/list", {})
            + rpc(4, "tools/call", CALL)
        )
        found = server.answers({1, 2, 3, 4}, timeout=60)
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        return [found[i] for i in (1, 2, 3, 4)], server.diagnostics
    finally:
        server.finish()


def test_the_front_answers_the_opening_as_the_sdk_does_then_hands_over(tmp_path: Path) -> None:
    lean, lean_log = _session(tmp_path, "1")
    sdk, sdk_log = _session(tmp_path, "0")
    assert lean[:3] == sdk[:3]
    assert len(lean[1]["result"]["tools"]) == 12
    assert "the lean front answered 3 requests" in lean_log
    assert "the lean front" not in sdk_log
    for answer in (lean[3], sdk[3]):  # the sandbox's correction, through the SDK in both
        assert answer["result"]["isError"] is False, answer
        assert answer["result"]["structuredContent"] == sdk[3]["result"]["structuredContent"]
    assert "refused what the lean front answered" not in lean_log


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_right_after_the_opening_exits_as_a_session_does(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    server = Server(process_env(tmp_path, VERTEXSMS_SANDBOX="1"), tmp_path)
    try:
        server.send(rpc(1, "initialize", INIT))
        assert "result" in server.answers({1})[1]
        server.proc.send_signal(signum)
        assert server.proc.wait(timeout=15) == status
        assert (
            f"vertex-stdio exits ({'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'})" in server.diagnostics
        )
    finally:
        server.finish()
