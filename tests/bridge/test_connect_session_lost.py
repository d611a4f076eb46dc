"""``connect`` after the remote forgot its session: the next request opens a new one.

A real remote that really loses sessions: tests/support/remote_mcp.py (the SDK's own stateful
Streamable HTTP server; with ``REMOTE_LEGACY_ERA=1`` it speaks the 2025 protocol, sessions with
an ``Mcp-Session-Id``) run as its own process, stopped and started again on the same port while
the real ``vertex-stdio connect`` process is connected to it over stdio.  The new remote answers
the old session id with HTTP 404 (the MCP spec, Streamable HTTP "Session Management").

- A read-only call met by the 404 is sent once more, on a new session, and answered.
- A call that is not read-only is never sent again: it reached the remote once (``received``),
  was not run (``acted``), and its envelope says the session ended and to call again
  (``outcome: refused``, ``retryable: true``); the call after it runs on a new session.
- The lean call path (``VERTEX_STDIO_LEAN_CALLS=1``) answers each of these itself, with the
  same bytes as the SDK path (``=0``).
- A 2026-07-28 remote (no sessions at all) restarted the same way goes on answering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from oauth_server.harness import first_line, stop
from stdio_server import INIT, Server
from test_connect_lean_calls import _call, _counts, _same

from bridge import process_env, rpc

pytestmark = pytest.mark.slow
REMOTE = Path(__file__).resolve().parents[1] / "support" / "remote_mcp.py"


class Restartable:
    """remote_mcp.py without OAuth on 127.0.0.1; ``restart`` stops it and starts a new one on the
    same port (a remote that restarted: it knows no session of the one before)."""

    def __init__(self, tmp: Path, **env: str) -> None:
        tmp.mkdir(exist_ok=True)
        self.log = tmp / "remote.log"
        self._env = {**os.environ, "REMOTE_LOG": str(self.log), "REMOTE_CALM_TOOLS": "1", **env}
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = self._start(0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def _start(self, port: int) -> int:
        self._proc = subprocess.Popen(
            [sys.executable, str(REMOTE), "none", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
        )
        line = first_line(self._proc, 30.0)
        assert line.startswith(b"READY "), line
        return int(line.split()[1])

    def restart(self) -> None:
        self.stop()
        assert self._start(self.port) == self.port

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc)
            self._proc = None

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@contextmanager
def restartable(tmp: Path, **env: str) -> Iterator[Restartable]:
    remote = Restartable(tmp, **env)
    try:
        yield remote
    finally:
        remote.stop()


def _run(home: Path, remote: Restartable, lean: str) -> tuple[list[bytes], str]:
    """One ``connect`` process through two restarts of the remote; stdout after the list, and the log.

    A read-only call and one that is not, each the first request after a restart."""
    home.mkdir()
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT="10",
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    server = Server(env, home, ("connect", remote.url))
    steps: list[tuple[bool, bytes]] = [  # (restart the remote first, the call)
        (False, _call("before", "search", {"query": "before"})),
        (True, _call("read-only", "search", {"query": "read-only"})),
        (False, _call("after", "act", {"what": "after"})),
        (True, _call("lost", "act", {"what": "lost"})),
        (False, _call("again", "act", {"what": "again"})),
    ]
    try:
        server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=60)["list"], server.diagnostics[-3000:]
        start = len(server.raw)
        for restart, line in steps:
            if restart:
                remote.restart()
            id_ = json.loads(line)["id"]
            server.send(line)
            assert id_ in server.answers({id_}, timeout=60), server.diagnostics[-3000:]
        assert server.close_stdin() < 15
        return bytes(server.raw[start:]).splitlines(), server.diagnostics
    finally:
        server.finish()


def _answers(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    found = [json.loads(line) for line in lines]
    return {message["id"]: message for message in found if "id" in message}


def _text(answer: dict[str, Any]) -> str:
    content = answer["result"]["content"]
    assert len(content) == 1, answer
    text: str = content[0]["text"]
    return text


def _checked(out: list[bytes], log: str, received: list[str]) -> None:
    """One run's answers and what its remote received and ran."""
    answers = _answers(out)
    for id_ in ("before", "read-only", "after", "again"):
        assert answers[id_]["result"].get("isError") is not True, (answers[id_], log[-3000:])
    assert "About read-only" in _text(answers["read-only"])  # the remote's own answer, on the new session
    assert _text(answers["after"]) == "did after"
    assert _text(answers["again"]) == "did again"
    lost = answers["lost"]["result"]
    assert lost["isError"] is True, lost
    error = json.loads(lost["content"][0]["text"])["error"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE", error
    assert error["outcome"] == "refused", error
    assert error["retryable"] is True, error
    assert "ended the session" in error["message"], error
    assert "call it again" in error["message"], error
    # the read-only call reached the restarted remote twice (the 404, then on the new session);
    # the call that is not read-only reached it once and was never run
    assert received.count("received read-only") == 2, received
    assert received.count("received lost") == 1, received
    assert "acted lost" not in received, received
    assert received.count("acted after") == received.count("acted again") == 1, received


def test_a_restarted_remote_gets_a_new_session_on_both_paths(tmp_path: Path) -> None:
    with restartable(tmp_path / "one", REMOTE_LEGACY_ERA="1") as remote:
        lean, lean_log = _run(tmp_path / "lean", remote, "1")
        _checked(lean, lean_log, remote.lines())
    with restartable(tmp_path / "two", REMOTE_LEGACY_ERA="1") as remote:
        off, off_log = _run(tmp_path / "off", remote, "0")
        _checked(off, off_log, remote.lines())
    _same(lean, off)
    assert _counts(lean_log) == (5, 0)  # every call answered on the lean path, the 404s too
    assert "the lean call path" not in off_log


def test_a_remote_without_sessions_restarted_goes_on_answering(tmp_path: Path) -> None:
    """2026-07-28: no session id, so nothing to lose; each call runs once, after each restart."""
    with restartable(tmp_path) as remote:
        out, log = _run(tmp_path / "home", remote, "1")
        received = remote.lines()
    answers = _answers(out)
    for id_ in ("before", "read-only", "after", "lost", "again"):
        assert answers[id_]["result"].get("isError") is not True, (answers[id_], log[-3000:])
    for what in ("after", "lost", "again"):
        assert received.count(f"received {what}") == received.count(f"acted {what}") == 1, received
