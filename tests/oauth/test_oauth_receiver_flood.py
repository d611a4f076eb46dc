"""The callback receiver under a flood of idle connections, in a child process limited to 256
file descriptors (``RLIMIT_NOFILE``): the genuine redirect still gets through (POSIX only)."""

from __future__ import annotations

import json
import os
import queue
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="RLIMIT_NOFILE is POSIX")]

SRC = Path(__file__).resolve().parents[2] / "src"
FLOOD = 400
LIMIT = 256

_CHILD = f"""
import asyncio, json, resource, sys
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, hard))
from vertex_stdio.oauth.io.receiver import Receiver

async def main():
    receiver = Receiver("the-state")
    receiver.arm("https://as.example/authorize?client_id=c")
    await receiver.start()
    print(json.dumps({{"start": receiver.start_url, "limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}}), flush=True)
    try:
        query = await asyncio.wait_for(receiver.wait(), 60)
        receiver.finish("success")
        print("GOT " + query.get("code", ""), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the test is done
    finally:
        await receiver.aclose()

asyncio.run(main())
"""


class Flood:
    """Tries to keep ``count`` idle connections open to ``port``: it opens a new one for each the
    server closes, and tries again for each that could not connect."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.opened = 0
        self.closed_by_server = 0
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._full = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Flood:
        self._thread.start()
        assert self._full.wait(120), "the flood did not make its first round of connections"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        for sock in self._socks:
            sock.close()

    def _open(self) -> None:
        sock = socket.socket()
        sock.settimeout(0.05)  # beyond the listen backlog of a server that stopped accepting
        try:
            sock.connect(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            return
        self._socks.append(sock)
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            for _ in range(self.count - len(self._socks)):
                self._open()
            self._full.set()
            readable, _, _ = select.select(self._socks, [], [], 0.05)
            for sock in readable:  # readable and idle means the server closed it
                self._socks.remove(sock)
                sock.close()
                self.closed_by_server += 1


def _exchange(port: int, request: bytes) -> bytes:
    """One request and its whole answer, as a browser sends it: a connection closed before any
    answer came is tried again on a new one (as browsers do when a connection they opened is
    dropped before use), a few times."""
    for _ in range(10):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        except (ConnectionError, TimeoutError):
            # The SYN lost to the flood's in a full listen backlog (the flood reconnects every
            # 50 ms; the kernel retries a lost SYN after 1, 3, 7, 15 s): a browser tries again.
            continue
        try:
            with sock:
                sock.sendall(request)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except ConnectionError:
            continue
        if chunks:
            return b"".join(chunks)
    raise AssertionError("no answer in 10 connections")


class Child:
    """The receiver's process: its stdout lines as they come, its stderr kept whole.

    Both pipes are drained as the child writes: a child whose log fills an unread pipe (64 KiB)
    blocks in ``write`` with its event loop, and the redirect would never be answered."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(proc.stdout, self.lines.put), daemon=True),
            threading.Thread(target=self._read, args=(proc.stderr, self.errors.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, keep: Callable[[str], None]) -> None:
        assert stream is not None
        for line in stream:
            keep(line.strip())

    def join(self) -> None:
        for reader in self._readers:
            reader.join(30)  # the child's pipes have ended


@pytest.fixture
def child() -> Iterator[Child]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    running = Child(proc)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        running.join()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def test_idle_connections_beyond_the_descriptor_limit_do_not_starve_the_redirect(child: Child) -> None:
    """400 idle connections (kept at 400) against a receiver limited to 256 descriptors: the
    browser's start URL and genuine callback are both answered, the sign-in gets its code, and
    accepting never ran out of descriptors (asyncio's own server did: it then logged an error and
    stopped accepting for a second each time, while the flood kept the listen queue full)."""
    proc, lines = child.proc, child.lines
    ready = json.loads(lines.get(timeout=60))
    assert ready["limit"] == LIMIT
    start = urlsplit(ready["start"])
    port = start.port
    assert port is not None
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    with Flood(port, FLOOD) as flood:
        redirect = _exchange(port, b"GET " + start.path.encode() + b" HTTP/1.1\r\n" + host + b"\r\n")
        assert redirect.startswith(b"HTTP/1.1 302"), redirect[:200]
        cookie = next(
            line.split(b":", 1)[1].split(b";")[0].strip()
            for line in redirect.split(b"\r\n")
            if line.lower().startswith(b"set-cookie:")
        )
        page = _exchange(
            port,
            b"GET /callback?state=the-state&code=GENUINE HTTP/1.1\r\n"
            + host
            + b"Cookie: "
            + cookie
            + b"\r\n\r\n",
        )
        assert lines.get(timeout=60) == "GOT GENUINE"
        assert page.startswith(b"HTTP/1.1 200"), page[:200]
    assert flood.opened > LIMIT  # more connections than the receiver has descriptors
    assert flood.closed_by_server > 0  # the receiver shed idle connections rather than run out
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    child.join()
    exhausted = [line for line in child.errors if "out of system resource" in line or "no descriptor" in line]
    assert not exhausted, exhausted[:3]
