"""A real ``vertex-stdio`` process with piped stdio, for tests that drive it line by line."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bridge import rpc

SEND = {"to": "37069912345", "from": "ACME", "message": "Your code is 4815"}
INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


class Server:
    """``python -m vertex_stdio`` with piped stdio; stdout lines are parsed as they arrive."""

    def __init__(
        self, env: dict[str, str], home: Path, args: tuple[str, ...] = (), *, reading: bool = True
    ) -> None:
        self.stderr_path = home / "stderr.txt"
        self.log_path = Path(env["VERTEXSMS_LOG_DIR"]) / "vertex-stdio.log"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vertex_stdio", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        self.raw = bytearray()  # every line written to stdout
        self.tail = b""  # bytes after the last line: a line cut off when the process ended
        self.cut_off_allowed = False  # finish() fails on a cut-off line unless a test allows it
        self.messages: list[dict[str, Any]] = []
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reading = threading.Event()  # cleared: stdout is not read (a client that stalls)
        if reading:
            self._reading.set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        self._reading.wait()
        for line in iter(self.proc.stdout.readline, b""):
            if not line.endswith(b"\n"):
                self.tail = line
                break
            self.raw += line
            self._inbox.put(json.loads(line))
            self._reading.wait()
        self._inbox.put(None)

    def stop_reading(self) -> None:
        """Read no more of stdout (beyond the line being read and what its buffer already
        holds, at most 8 KiB) until ``read_again``: stdout's pipe fills as a stalled client's does."""
        self._reading.clear()

    def read_again(self) -> None:
        self._reading.set()

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        message = self._inbox.get(timeout=timeout)
        if message is not None:
            self.messages.append(message)
        return message

    def answers(self, ids: set[Any], timeout: float = 20.0) -> dict[Any, dict[str, Any]]:
        """Wait (bounded) for responses to ``ids``; return every response seen meanwhile by id."""
        deadline = time.monotonic() + timeout
        found = {m.get("id"): m for m in self.messages if "method" not in m}
        while not ids <= found.keys():
            message = self.next_message(max(0.01, deadline - time.monotonic()))
            if message is None:
                break
            if "method" not in message:
                found[message.get("id")] = message
        return found

    def initialize(self) -> None:
        self.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        assert "result" in self.answers({"init"})["init"]

    def tools_listed(self, id_: str) -> bool:
        """The process still serves: a tools/list is answered with the twelve tools."""
        self.send(rpc(id_, "tools/list"))
        return (
            len(self.answers({id_})[id_]["result"]["tools"]) == 12
        )  # the ten hosted tools, quote_sms and get_sms_status

    def close_stdin(self) -> float:
        """Close stdin and return the seconds until the process exited (at most 15)."""
        assert self.proc.stdin is not None
        closed = time.monotonic()
        self.proc.stdin.close()
        self.proc.wait(timeout=15)
        return time.monotonic() - closed

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (Linux /proc), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")

    def finish(self) -> None:
        """Kill if still running, close every pipe, and check stdout was pure JSON-RPC."""
        self._reading.set()
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait(timeout=15)
        self._reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        assert_pure(bytes(self.raw))
        assert self.cut_off_allowed or not self.tail, f"a line cut off: {self.tail[:200]!r}"

    @property
    def diagnostics(self) -> str:
        log = self.log_path.read_text() if self.log_path.exists() else ""
        return self.stderr_path.read_text(errors="replace") + log


def assert_pure(stdout: bytes) -> None:
    """Every stdout line is exactly one JSON-RPC 2.0 message."""
    assert not stdout or stdout.endswith(b"\n")
    for line in stdout.splitlines():
        message = json.loads(line)
        assert isinstance(message, dict), line[:200]
        assert message.get("jsonrpc") == "2.0", line[:200]
        if "method" not in message:  # a response: an id and exactly one of result / error
            assert "id" in message, line[:200]
            assert ("result" in message) != ("error" in message), line[:200]
