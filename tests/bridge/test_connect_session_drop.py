"""``connect`` when the remote's process dies with calls in flight: each failure drops only its own connection.

A real remote that really goes away: tests/support/remote_mcp.py (the SDK's own stateful
Streamable HTTP server, a 2025 session with an ``Mcp-Session-Id``) run as its own process on a
listening socket this test holds.  Several calls reach it and are held there (``REMOTE_HOLD``);
then the process is killed (SIGKILL: every connection to it resets, nothing is answered) and a
new one is started on the same socket, which kept listening meanwhile (as behind a
socket-activated service or a load balancer), so a request sent in between waits in its queue.

The reads are plain calls (the lean path's, with ``VERTEX_STDIO_LEAN_CALLS=1``) and calls with a
progress token (the SDK client's own requests, on the same connection).  The first failure drops
the connection and its read, sent again, opens a new one; the SDK client's requests fail as the
old connection closes, a moment later.  Before the fix each of those failures closed "the
connection", by then often the new one, and a read sent again on it failed a second time (2 runs
in 3 on the lean path).  Now, on the lean path and on the SDK's alone (``=0``):

- each read-only call is answered with the remote's own result, having reached the remote
  exactly twice (once to the killed process, once more to the new one);
- the call that is not read-only reached the remote once, was never sent again, and its envelope
  says it may have gone out (``outcome: unknown``, never ``retryable``);
- the call after it runs, once.

tests/bridge/test_connect_drop_units.py shows the same in-process, every time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from oauth_server.harness import first_line
from stdio_server import INIT, Server
from test_connect_lean_calls import _call, _counts

from bridge import process_env, rpc

pytestmark = pytest.mark.slow
REMOTE = Path(__file__).resolve().parents[1] / "support" / "remote_mcp.py"
READS = [f"read-{i}" for i in range(6)]
PROGRESS = {"read-4", "read-5"}  # with a progress token: the SDK client's own requests, beside lean calls


class Replaceable:
    """remote_mcp.py without OAuth, speaking 2025 (sessions), on a socket held here; ``crash``
    kills it with the calls it holds unanswered and starts a new process on the same socket."""

    def __init__(self, tmp: Path) -> None:
        tmp.mkdir()
        self.log, self.hold = tmp / "remote.log", tmp / "hold"
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._env = {
            **os.environ,
            "REMOTE_LOG": str(self.log),
            "REMOTE_CALM_TOOLS": "1",
            "REMOTE_LEGACY_ERA": "1",
            "REMOTE_HOLD": str(self.hold),
            "REMOTE_LISTEN_FD": str(self._sock.fileno()),
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(REMOTE), "none"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
            pass_fds=(self._sock.fileno(),),
        )
        line = first_line(self._proc, 30.0)
        assert line == f"READY {self.port}\n".encode(), line

    def crash(self) -> None:
        """Kill the process (what it holds is never answered), then start a new one."""
        self._kill()
        self.hold.unlink()
        self._start()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def close(self) -> None:
        self._kill()
        self._sock.close()

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_received(self, whats: list[str]) -> None:
        """Wait (bounded) until each of ``whats`` reached the remote."""
        ends = time.monotonic() + 60
        while not all(f"received {what}" in self.lines() for what in whats):
            assert time.monotonic() < ends, self.lines()
            time.sleep(0.05)


@contextmanager
def replaceable(tmp: Path) -> Iterator[Replaceable]:
    remote = Replaceable(tmp)
    try:
        yield remote
    finally:
        remote.close()


def _run(home: Path, remote: Replaceable, lean: str) -> tuple[dict[str, dict[str, Any]], str]:
    """One ``connect`` process: four reads and a call that is not read-only in flight when the
    remote dies, then one call more; the answers by id, and the log."""
    home.mkdir()
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT="20",
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    server = Server(env, home, ("connect", remote.url))
    try:
        server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=60)["list"], server.diagnostics[-3000:]
        remote.hold.touch()
        lines = [_read(what) for what in READS] + [_call("gone", "act", {"what": "gone"})]
        server.send(b"".join(lines))
        remote.wait_received([*READS, "gone"])
        remote.crash()
        answers = server.answers({*READS, "gone"}, timeout=90)
        server.send(_call("after", "act", {"what": "after"}))
        answers |= server.answers({"after"}, timeout=60)
        assert server.close_stdin() < 15
        return answers, server.diagnostics
    finally:
        server.finish()


def _read(what: str) -> bytes:
    if what in PROGRESS:
        return _call(what, "search", {"query": what}, _meta={"progressToken": what})
    return _call(what, "search", {"query": what})


def _checked(answers: dict[str, dict[str, Any]], log: str, received: list[str]) -> None:
    for what in READS:
        result = answers[what]["result"]
        assert result.get("isError") is not True, (what, result, log[-4000:])
        assert f"About {what}" in result["content"][0]["text"], result  # the remote's own answer
        assert received.count(f"received {what}") == 2, (what, received)  # sent once more, once
    gone = answers["gone"]["result"]
    assert gone["isError"] is True, gone
    error = json.loads(gone["content"][0]["text"])["error"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE", error
    assert error["outcome"] == "unknown", error
    assert error["retryable"] is False, error
    assert "It was not sent again" in error["message"], error
    assert received.count("received gone") == 1, received
    assert "acted gone" not in received, received
    assert answers["after"]["result"]["content"][0]["text"] == "did after", answers["after"]
    assert received.count("received after") == received.count("acted after") == 1, received


@pytest.mark.parametrize("lean", ["1", "0"], ids=["lean", "sdk-path"])
def test_calls_in_flight_when_the_remote_dies_each_drop_only_their_own_connection(
    tmp_path: Path, lean: str
) -> None:
    with replaceable(tmp_path / "remote") as remote:
        answers, log = _run(tmp_path / "home", remote, lean)
        received = remote.lines()
    _checked(answers, log, received)
    if lean == "1":
        assert _counts(log)[0] == len(READS) - len(PROGRESS) + 2  # the lean path answered the rest
    else:
        assert "the lean call path" not in log
