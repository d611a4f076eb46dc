"""``vertex-stdio call`` against a stalled API speaks: what it waits for, and Ctrl-C mid-send.

The real process meets a loopback API whose ``POST /sms`` is held until the test lets it go (or
never answers); Ctrl-C is a real SIGINT sent to the child.  Every wait is bounded and waits for
what it names; no assertion is about time.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
import pytest
from loopback import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge import process_env

pytestmark = pytest.mark.slow

SEND = {"to": "+37061234567", "from": "ACME", "message": "Your table is ready"}
BOUND = 60.0  # the longest any step may take on a loaded machine


@dataclass
class StalledApi:
    """``POST /sms`` arrives (``arrived`` set), then waits for ``release`` (bounded) and answers an id."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def send(self, _request: Request) -> JSONResponse:
        self.arrived.set()
        await anyio.to_thread.run_sync(self.release.wait, BOUND, abandon_on_cancel=True)
        return JSONResponse(["stalled-4242"], headers={"X-VertexSMS-Amount-Sent": "1"})

    async def status(self, request: Request) -> JSONResponse:
        self.arrived.set()
        await anyio.to_thread.run_sync(self.release.wait, BOUND, abandon_on_cancel=True)
        return JSONResponse({"id": request.path_params["message_id"], "status": 1, "error": 0})


@pytest.fixture
def api() -> Iterator[tuple[StalledApi, str]]:
    stalled = StalledApi()
    routes = [
        Route("/sms", stalled.send, methods=["POST"]),
        Route("/sms/status/{message_id}", stalled.status, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    with serve_in_thread(app, timeout_graceful_shutdown=1) as url:
        try:
            yield stalled, url
        finally:
            stalled.release.set()


class Child:
    """``vertex-stdio call ...`` with stderr read line by line as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vertex_stdio", "call", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def said(self, words: str) -> str:
        """Wait (bounded) until stderr has a line with ``words``; that line."""
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            for line in list(self.err):
                if words in line:
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"never said {words!r}; stderr: {''.join(self.err)}")

    def finish(self) -> tuple[int, str, str]:
        """Exit code, stdout and stderr once the child ends (stderr only through the reader thread)."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # small; ends when the child closes it
        code = self.proc.wait(BOUND)
        self._reader.join(BOUND)
        return code, out, "".join(self.err)

    def close(self) -> None:
        """Kill the child if it still runs; close its pipes."""
        self.proc.kill()
        self.proc.wait(BOUND)
        self._reader.join(BOUND)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def env(api: tuple[StalledApi, str], tmp_path: Path) -> dict[str, str]:
    return process_env(
        tmp_path,
        VERTEXSMS_API_URL=api[1],
        VERTEXSMS_MCP_URL=api[1] + "/mcp",
        VERTEXSMS_API_TOKEN="stall-token-0123456789",
        VERTEXSMS_HTTP_TIMEOUT="120",
    )


def test_a_slow_call_says_what_it_waits_for_and_ctrl_c_finishes_the_send(
    api: tuple[StalledApi, str], env: dict[str, str]
) -> None:
    """2 s in: "waiting for VertexSMS (host)"; Ctrl-C: "finishing the send in flight…", then sent with its id."""
    stalled, url = api
    child = Child(env, "send_sms", "--json", json.dumps(SEND))
    try:
        assert stalled.arrived.wait(BOUND)
        host = url.removeprefix("http://")
        assert f"waiting for VertexSMS ({host})" in child.said("waiting for")
        child.proc.send_signal(signal.SIGINT)
        child.said("finishing the send in flight")
        stalled.release.set()
        code, out, err = child.finish()
    finally:
        child.close()
    assert code == 130, err
    assert json.loads(out)["message_id"] == "stalled-4242"
    assert "sent, message id stalled-4242" in err


def test_a_second_ctrl_c_leaves_the_outcome_unknown_with_the_command_that_checks(
    api: tuple[StalledApi, str], env: dict[str, str]
) -> None:
    """Two Ctrl-Cs mid-send: UNKNOWN, and the printed `history --pending` runs and lists the send."""
    stalled, _ = api
    child = Child(env, "send_sms", "--json", json.dumps(SEND))
    try:
        assert stalled.arrived.wait(BOUND)
        child.proc.send_signal(signal.SIGINT)
        child.said("finishing the send in flight")
        child.proc.send_signal(signal.SIGINT)
        code, out, err = child.finish()
    finally:
        child.close()
    assert code == 130, err
    assert out == ""
    assert "UNKNOWN" in err
    pending = [c for c in err.split("`") if c.endswith("history --pending")]
    assert pending, err
    listed = subprocess.run(shlex.split(pending[0]), env=env, capture_output=True, text=True, timeout=BOUND)
    assert listed.returncode == 0, listed.stderr
    assert "+37061234567" in listed.stdout


def test_ctrl_c_stops_a_free_call_at_once(api: tuple[StalledApi, str], env: dict[str, str]) -> None:
    """A read-only call is simply stopped by Ctrl-C: exit 130, nothing on stdout, a word on stderr."""
    stalled, _ = api
    child = Child(env, "get_sms_status", "--arg", "message_id=stalled-1")
    try:
        assert stalled.arrived.wait(BOUND)
        child.said("waiting for")
        child.proc.send_signal(signal.SIGINT)
        code, out, err = child.finish()
    finally:
        child.close()
    assert (code, out) == (130, "")
    assert "stopped" in err
