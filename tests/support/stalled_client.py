"""A client that writes requests and stops reading stdout, and the states it waits for (Linux).

A test of back-pressure must not ask "did the process stop reading within N seconds?" (a busy
machine makes any N wrong).  It waits, bounded, for a state the kernel reports instead: the
flood's writer is blocked, the process's stdin pipe is full, and the process sleeps with its CPU
time unchanged.  A process that kept reading would empty the pipe and let the writer finish, so
that state cannot be reached by one that queues without bound.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_ATOMIC = 4096  # PIPE_BUF: a write this size is all or nothing, so ``written`` is exact


def queued(fd: int) -> int:
    """Bytes in the pipe behind ``fd`` (either end) that its reader has not read."""
    count: int = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    return count


def capacity(fd: int) -> int:
    """The pipe's size in bytes."""
    return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


class Flood:
    """Writes ``data`` to ``fd`` on a thread of its own, in atomic pieces, counting what went in
    (``data`` is made before the process starts: no pause in the writing that the process could
    take for a client gone quiet)."""

    def __init__(self, fd: int, data: bytes) -> None:
        self._fd = fd
        self._data = data
        self.total = len(self._data)
        self.written = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        try:
            with contextlib.suppress(OSError):  # the process went away: the test says why
                while self.written < self.total:
                    piece = self._data[self.written : self.written + _ATOMIC]
                    self.written += os.write(self._fd, piece)
        finally:
            self.done.set()

    @property
    def consumed(self) -> int:
        """Bytes the process has read: written, less what still waits in the pipe."""
        return self.written - queued(self._fd)


@dataclass(frozen=True)
class Stalled:
    """The state the flood reached: bytes the process read, and its resident memory then."""

    consumed: int
    rss_mb: float


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _asleep(pid: int) -> bool:
    """Every thread of ``pid`` is waiting (none running or runnable)."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
    return bool(states) and all(state in "SD" for state in states)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def wait_stalled(pid: int, flood: Flood, stdin_fd: int, within: float = 120.0) -> Stalled:
    """Wait (bounded by ``within``; no assertion on how long it takes) until the process has
    stopped reading: stdin's pipe full, the writer blocked, the process asleep with its CPU time
    unchanged over three looks.  Fails if the flood was read to its end instead."""
    deadline = time.monotonic() + within
    quiet, ticks = 0, -1
    full = capacity(stdin_fd) - _ATOMIC
    while True:
        assert not flood.done.is_set(), (
            f"the process read all {flood.total} bytes although nobody read stdout"
        )
        assert time.monotonic() < deadline, "the process neither stopped reading nor read everything"
        now = _cpu_ticks(pid)
        settled = queued(stdin_fd) > full and _asleep(pid) and now == ticks
        quiet, ticks = (quiet + 1 if settled else 0), now
        if quiet >= 3:
            return Stalled(flood.consumed, rss_mb(pid))
        time.sleep(0.2)
