"""The real process under pressure: a client that stops reading, a flood of requests, an oversized line with its id."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stalled_client import Flood, wait_stalled

from bridge import emulator_env, rpc
from vertex_stdio.mcpio.lines import leading_id
from vertex_stdio.mcpio.stdio import BUSY, MAX_IN_FLIGHT
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
TOTAL = 20_000  # tools/list requests from a client that stops reading: more than the bridge queues
GET_OPERATOR = {"name": "get_operator", "arguments": {"operatorId": 1101}}


class Process:
    """``python -m vertex_stdio`` with raw pipes; the test decides when stdout is read."""

    def __init__(self, emulator: Emulator, home: Path) -> None:
        env = emulator_env(
            home,
            emulator,
            VERTEXSMS_HTTP_TIMEOUT="10",
        )
        self.stderr = (home / "stderr.txt").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vertex_stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def send(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def answer(self) -> dict[str, Any]:
        line = self.stdout.readline()
        assert line, "stdout closed"
        message: dict[str, Any] = json.loads(line)
        assert message.get("jsonrpc") == "2.0"
        return message

    def answers(self, ids: set[Any]) -> dict[Any, dict[str, Any]]:
        """Read (blocking; the test's timeout bounds it) until every id in ``ids`` is answered, each once."""
        found: dict[Any, dict[str, Any]] = {}
        while not ids <= found.keys():
            message = self.answer()
            if "method" in message:
                continue
            assert message.get("id") not in found, f"answered twice: {message.get('id')}"
            found[message.get("id")] = message
        return found

    def initialize(self) -> None:
        self.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        assert "result" in self.answers({"init"})["init"]

    def rss_mb(self, field: str = "VmHWM") -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no {field}")

    def close(self) -> int:
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.kill()
            self.proc.wait(5)
            self.stdout.close()
            self.stderr.close()


@pytest.fixture
def process(emulator: Emulator, tmp_path: Path) -> Iterator[Process]:
    proc = Process(emulator, tmp_path)
    try:
        proc.initialize()
        yield proc
    finally:
        proc.close()
        emulator.clear_faults()


pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")


@pytest.mark.slow
@pytest.mark.parametrize("warm", ["prompts/list", "tools/list"])
def test_a_client_that_stops_reading_does_not_grow_memory(
    process: Process, record_property: Any, warm: str
) -> None:
    """Requests keep coming while nobody reads stdout: the bridge stops reading stdin instead of
    queueing answers (a state the kernel reports: ``stalled_client.wait_stalled``, not a time).
    After a ``prompts/list`` (the SDK's; a plain ``ping`` the early loop answers itself) the SDK's session answers the flood, and stops once its queue
    is full; after a ``tools/list`` the lean front still answers it, and stops at the first
    answer it cannot write."""
    process.send(rpc("warm", warm))
    process.answers({"warm"})
    before = process.rss_mb()
    # about 300 MB of answers if all were queued
    flood = Flood(process.stdin.fileno(), b"".join(rpc(f"list-{n}", "tools/list") for n in range(TOTAL)))
    stalled = wait_stalled(process.proc.pid, flood, process.stdin.fileno())
    peak = process.rss_mb()
    record_property("rss_before_mb", round(before, 1))
    record_property("rss_peak_mb", round(peak, 1))
    record_property("bytes_read_when_stalled", stalled.consumed)
    assert stalled.consumed < flood.total
    assert peak - before < 100, f"peak RSS grew from {before:.0f} MB to {peak:.0f} MB"
    # the client reads again: everything it wrote is answered, each once, and the bridge still serves
    seen: dict[Any, dict[str, Any]] = {}
    twice: list[Any] = []

    def drain() -> None:  # until the process closes stdout
        with contextlib.suppress(ValueError, OSError):
            for line in iter(process.stdout.readline, b""):
                message = json.loads(line)
                if message.get("id") in seen:
                    twice.append(message.get("id"))
                seen[message.get("id")] = message

    threading.Thread(target=drain, daemon=True).start()
    assert flood.done.wait(120)  # generous: the machine may be busy; this checks completion, not speed
    assert flood.written == flood.total
    process.send(rpc("after", "ping"))
    deadline = time.monotonic() + 60
    while "after" not in seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "after" in seen
    answered = {k for k in seen if isinstance(k, str) and k.startswith("list-")}
    assert len(answered) == TOTAL
    assert not twice
    assert all("result" in seen[k] or seen[k]["error"]["code"] == BUSY for k in answered)


@pytest.mark.slow
def test_ten_thousand_requests_in_flight_are_capped(
    process: Process, emulator: Emulator, record_property: Any
) -> None:
    """10 000 slow calls at once: at most MAX_IN_FLIGHT run; each of the rest is answered busy at once."""
    emulator.inject(Fault(method="GET", path="/operators/1101", delay=0.5, times=None))
    before = process.rss_mb()
    ids = set(range(10_000))
    process.send(b"".join(rpc(n, "tools/call", GET_OPERATOR) for n in ids))
    found = process.answers(ids)
    peak = process.rss_mb()
    busy = [n for n in ids if "error" in found[n]]
    ran = [n for n in ids if "result" in found[n]]
    record_property("busy", len(busy))
    record_property("rss_before_mb", round(before, 1))
    record_property("rss_peak_mb", round(peak, 1))
    assert all(found[n]["error"]["code"] == BUSY for n in busy)
    assert all("in flight" in found[n]["error"]["message"] for n in busy)
    assert all(found[n]["result"]["isError"] is False for n in ran)
    assert len(busy) >= 10_000 - 10 * MAX_IN_FLIGHT  # the reader outruns half-second calls
    assert len(ran) >= MAX_IN_FLIGHT
    assert peak - before < 100, f"peak RSS grew from {before:.0f} MB to {peak:.0f} MB"
    emulator.clear_faults()
    process.send(rpc("after", "tools/call", GET_OPERATOR))
    assert process.answers({"after"})["after"]["result"]["isError"] is False


@pytest.mark.slow
def test_an_oversized_line_is_answered_with_its_id(process: Process) -> None:
    """A 6 MB request whose id comes first is refused with that id, so its caller stops waiting."""
    big = {"to": "37069912345", "from": "ACME", "message": "x" * 6_000_000}
    line = json.dumps({"jsonrpc": "2.0", "id": "huge-1", "method": "tools/call", "params": big}).encode()
    process.send(line + b"\n" + rpc("next", "ping"))
    found = process.answers({"huge-1", "next"})
    assert found["huge-1"]["error"]["code"] == -32600
    assert "longer than 4 MiB" in found["huge-1"]["error"]["message"]
    assert "result" in found["next"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"yyy', 42),
        (b'  {"id" : "a\\"b", "method":', 'a"b'),
        (b'{"jsonrpc":"2.0","method":"x","params":{"id":7,"t":"', None),  # nested id: not the request's
        (b'{"params":{"id":7},"id":-3,"p":"', -3),
        (b'{"method":"id","id":', None),  # the value is cut off
        (b'{"id":1.5,"x":"', None),  # not an id a response can carry
        (b'{"id":12', None),  # the number may go on
        (b'["id", 1]', None),
        (b'{"a":"\\"id\\":5","id":"ok"', "ok"),
    ],
)
def test_leading_id(prefix: bytes, expected: object) -> None:
    """The top-level id is read from the start of a line only when it is there whole."""
    assert leading_id(prefix) == expected


def test_the_in_flight_cap_is_wider_than_a_burst() -> None:
    """A desktop burst (benchmarks/: 200 at once) is never refused as busy."""
    assert MAX_IN_FLIGHT >= 200
