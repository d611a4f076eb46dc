"""Lean calls from a client that stops reading stdout: the process stops reading stdin, its memory
stays bounded, and once the client reads again every call is answered once.

Two phases of a session answer lean calls: before the SDK is loaded (``mcpio/early.py``, its
answers through a queue of ``MAX_IN_FLIGHT * 4``) and after (``stdio.Wire``, beside the SDK's own
answers).  Each is flooded by a real process's real client over pipes; the stall is a state the
kernel reports (``stalled_client``), never a time.  As tests/mcpio/test_stdio_pressure.py does
for the SDK's own requests.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lean_session import Hosted, call, hosted_server, lean_counts, lean_server, opening
from stalled_client import Flood, rss_mb, wait_stalled
from stdio_server import Server

from bridge import rpc
from vertex_stdio.mcpio.stdio import BUSY, MAX_IN_FLIGHT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads pipes and memory from /proc"),
]

CORRECT = "correct_phone_number"


def _numbers(count: int) -> dict[str, Any]:
    return {"numbers": [{"number": f"86186{i:04d}", "country": "LT"} for i in range(count)]}


BIG, SMALL = _numbers(100), _numbers(1)  # a ~35 KB answer, a ~0.4 KB one


@pytest.fixture
def hosted() -> Iterator[Hosted]:
    with hosted_server() as found:
        yield found


def _flood(ids: list[str], big: int) -> bytes:
    """A call for each id; the first ``big`` correct 100 numbers each, the rest one."""
    return b"".join(call(i, CORRECT, BIG if n < big else SMALL) for n, i in enumerate(ids))


def _stall(server: Server, data: bytes, record_property: Any) -> Flood:
    """Write ``data`` without reading stdout until the process stops reading stdin."""
    assert server.proc.stdin is not None
    stdin = server.proc.stdin.fileno()
    flood = Flood(stdin, data)
    stalled = wait_stalled(server.proc.pid, flood, stdin)
    record_property("bytes_written", flood.total)
    record_property("bytes_read_when_stalled", stalled.consumed)
    record_property("rss_when_stalled_mb", round(stalled.rss_mb, 1))
    assert stalled.consumed < flood.total
    return flood


def _answered_once(server: Server, ids: list[str], flood: Flood, big: int) -> tuple[list[str], list[str]]:
    """The client reads again: every call is answered, once; (answered with a result, busy)."""
    server.read_again()
    assert flood.done.wait(120), "the process did not read the rest once its answers were read"
    found = server.answers(set(ids), timeout=120)
    assert set(ids) <= found.keys()
    server.send(call("after", CORRECT, SMALL))  # and the process still serves
    found = server.answers({"after"})
    lines = Counter(m.get("id") for m in server.messages if "method" not in m)
    assert all(lines[i] == 1 for i in (*ids, "after"))
    assert found["after"]["result"]["isError"] is False
    results = [i for i in ids if "result" in found[i]]
    busy = [i for i in ids if "error" in found[i]]
    assert len(results) + len(busy) == len(ids)
    assert all(found[i]["error"]["code"] == BUSY for i in busy)
    sizes = {i: 100 if n < big else 1 for n, i in enumerate(ids)}
    assert all(found[i]["result"]["structuredContent"]["count"] == sizes[i] for i in results)
    return results, busy


def test_after_the_sdk_loads_a_stalled_client_stops_the_reader(
    tmp_path: Path, hosted: Hosted, record_property: Any
) -> None:
    """``stdio.Wire``: a lean call counts in flight until its answer is written and the busy
    refusals fill the bounded queue (``MAX_QUEUED``); then the reader waits."""
    ids = [f"c{i}" for i in range(24_000)]
    flood = _flood(ids, big=300)  # ~14 MB: more lines than the queue and the pipes hold
    with lean_server(tmp_path, hosted.url) as server:
        server.send(opening() + rpc("ping", "prompts/list"))  # the SDK's: the session is the SDK's now
        assert set(server.answers({"ping"})["ping"]) & {"result", "error"}
        server.send(b"".join(call(f"w{i}", CORRECT, BIG) for i in range(20)))
        server.answers({f"w{i}" for i in range(20)})
        before = rss_mb(server.proc.pid)
        server.stop_reading()
        writer = _stall(server, flood, record_property)
        peak = rss_mb(server.proc.pid, "VmHWM")
        record_property("rss_before_mb", round(before, 1))
        record_property("rss_peak_mb", round(peak, 1))
        # what may be held: 256 answers of ~35 KB and 16 384 refusals (~9 + 3 MB), and their making
        assert peak - before < 50, f"peak RSS grew from {before:.0f} MB to {peak:.0f} MB"
        results, _ = _answered_once(server, ids, writer, big=300)
        assert len(results) >= MAX_IN_FLIGHT  # the first ones ran: busy answers are not all there is
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        assert lean_counts(server.diagnostics) == (len(results) + 21, 0)  # the warm-up's and "after"


def test_before_the_sdk_loads_a_stalled_client_stops_the_reader(
    tmp_path: Path, hosted: Hosted, record_property: Any
) -> None:
    """``mcpio/early.py``: the opening and the flood come at once, so the front hands the first
    call to the early path, which is stalled with the SDK not loaded.  A call counts in flight
    until its answer is written, so at most 256 answers are held; it used to count only until
    its answer was queued, and the queue of 1 024 held answers too (111 MB at the stall here)."""
    ids = [f"c{i}" for i in range(2_500)]
    flood = opening() + _flood(ids, big=len(ids))  # ~11 MB
    with lean_server(tmp_path, hosted.url, reading=False) as server:
        writer = _stall(server, flood, record_property)
        peak = rss_mb(server.proc.pid, "VmHWM")
        record_property("rss_peak_mb", round(peak, 1))
        log = server.diagnostics
        assert "the first lean call is answered; the SDK is not imported" in log
        assert "Initializing server" not in log  # the SDK's server never started
        assert peak < 90, f"peak RSS {peak:.0f} MB"  # 74 MB here; an SDK-loaded process starts at 80-88
        results, _ = _answered_once(server, ids, writer, big=len(ids))
        assert any(m.get("id") == "init" and "result" in m for m in server.messages)
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        assert lean_counts(server.diagnostics) == (len(results) + 1, 0)  # and "after"


@pytest.mark.parametrize("phase", ["early", "sdk"])
def test_a_signal_ends_a_stalled_session(tmp_path: Path, hosted: Hosted, phase: str) -> None:
    """SIGTERM while nobody reads stdout: the calls in flight get their grace, then the process
    exits as a session does, although their answers cannot all be written."""
    if phase == "early":
        flood = opening() + _flood([f"c{i}" for i in range(2_500)], big=2_500)
    else:
        flood = _flood([f"c{i}" for i in range(24_000)], big=300)
    with lean_server(tmp_path, hosted.url, reading=phase == "sdk") as server:
        if phase == "sdk":  # the session is the SDK's before the flood
            server.send(
                opening() + rpc("ping", "prompts/list")
            )  # the SDK's (a plain ping the early loop answers)
            assert set(server.answers({"ping"})["ping"]) & {"result", "error"}
            server.stop_reading()
        _stall(server, flood, lambda *_: None)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0
        assert ("Initializing server" in server.diagnostics) == (phase == "sdk")
        assert "exits (SIGTERM)" in server.diagnostics
        # The last answer may be cut off: the writer gets a second once the calls have ended, and
        # a client that never reads cannot take the rest.  Every whole line is JSON-RPC (finish).
        server.cut_off_allowed = True
        server.read_again()
