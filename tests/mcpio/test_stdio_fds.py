"""The real process on stdin/stdout that are not pipes: regular files and a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge import process_env, rpc
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
SCRIPT = (
    rpc(1, "initialize", INIT)
    + rpc(None, "notifications/initialized")
    + rpc(2, "tools/list")
    + rpc(3, "ping")
)


def _by_id(lines: list[bytes]) -> dict[object, dict[str, object]]:
    messages = [json.loads(line) for line in lines if line.strip()]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    return {m.get("id"): m for m in messages}


@pytest.mark.slow
def test_stdin_and_stdout_as_regular_files(tmp_path: Path) -> None:
    """Requests read from a file and answers written to one (a file cannot be polled): all answered, exit 0."""
    requests, answers = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    requests.write_bytes(SCRIPT)
    with requests.open("rb") as stdin, answers.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "vertex_stdio", "serve", "--sandbox"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=process_env(tmp_path),
            timeout=60,
            check=False,
        )
    assert done.returncode == 0
    found = _by_id(answers.read_bytes().splitlines())
    assert set(found) == {1, 2, 3}
    assert len(found[2]["result"]["tools"]) == len(TOOL_NAMES)  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals")
def test_a_terminal_is_served_and_left_blocking(tmp_path: Path) -> None:
    """On a terminal (a person typing) the session works, and the terminal is never made non-blocking (the shell shares it)."""
    import pty
    import tty

    controller, terminal = pty.openpty()
    tty.setraw(terminal)  # no echo, no line editing: bytes pass as they are
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vertex_stdio", "serve", "--sandbox"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            env=process_env(tmp_path),
        )
        os.write(controller, SCRIPT)
        received = b""
        deadline = time.monotonic() + 60
        while received.count(b"\n") < 3 and time.monotonic() < deadline:
            received += os.read(controller, 65536)
        found = _by_id(received.splitlines())
        blocking = os.get_blocking(terminal)  # the flag belongs to the terminal, shared with the process
        proc.terminate()  # what ends it in a terminal (besides Ctrl-C); a killed process restores nothing
        proc.wait(timeout=15)
        assert set(found) == {1, 2, 3}
        assert blocking, "the terminal was made non-blocking"
    finally:
        os.close(controller)
        os.close(terminal)
