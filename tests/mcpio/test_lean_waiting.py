"""Lean calls run ``AT_ONCE`` at a time; the others wait their turn as requests (``leancalls.Waiting``).

Through the real process, before the SDK loads (``mcpio/early.py``) and after (``stdio.Wire``): the
scripted hosted server never holds more than ``AT_ONCE`` calls, every call is answered, and a
waiting call that is cancelled never leaves and is never answered.  In-process: a waiting call
is a request in a queue, not a task (what a burst's peak RSS was made of, issue 22).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hosted_script import HostedScript
from lean_session import Hosted, call, hosted_server, lean_server, opening
from stdio_server import Server

from bridge import rpc
from vertex_stdio.mcpio.leancalls import AT_ONCE, LeanRequest, Waiting

HELD = {"country": "AT"}  # held by the scripted server until released
CALLS = AT_ONCE + 24


@pytest.fixture
def hosted() -> Iterator[Hosted]:
    with hosted_server() as found:
        yield found


def _reached(script: HostedScript, calls: int) -> None:
    """Wait (bounded) until the scripted server has received ``calls`` tools/call requests."""
    deadline = time.monotonic() + 60
    while script.calls < calls:
        assert time.monotonic() < deadline, f"{script.calls} calls reached the hosted server, not {calls}"
        time.sleep(0.01)


def _open(server: Server, first: str) -> None:
    """The session, on the early path (``lean``) or handed to the SDK by a ping first (``sdk``)."""
    server.send(opening() + rpc("list", "tools/list") + (rpc("ping", "ping") if first == "sdk" else b""))
    if first == "sdk":
        assert "result" in server.answers({"ping"})["ping"]


def _burst(server: Server) -> list[str]:
    ids = [f"c{i}" for i in range(CALLS)]
    server.send(b"".join(call(i, "get_mobile_prefixes", HELD) for i in ids))
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("first", ["lean", "sdk"])
def test_a_burst_runs_at_most_at_once_and_every_call_is_answered(
    tmp_path: Path, hosted: Hosted, first: str
) -> None:
    script = hosted.script
    with lean_server(tmp_path, hosted.url) as server:
        _open(server, first)
        ids = _burst(server)
        _reached(script, AT_ONCE)
        script.release.set()
        found = server.answers(set(ids), timeout=60)
        assert all(found[i]["result"]["isError"] is False for i in ids)
        assert script.calls == CALLS
        assert script.most_at_once == AT_ONCE
        assert server.close_stdin() < 15


@pytest.mark.slow
@pytest.mark.parametrize("first", ["lean", "sdk"])
def test_a_waiting_call_cancelled_never_leaves_and_is_never_answered(
    tmp_path: Path, hosted: Hosted, first: str
) -> None:
    script = hosted.script
    with lean_server(tmp_path, hosted.url) as server:
        _open(server, first)
        ids = _burst(server)
        _reached(script, AT_ONCE)
        last, running = ids[-1], ids[0]
        for cancelled in (last, running):  # the second frees a runner: it takes the next waiting call
            server.send(rpc(None, "notifications/cancelled", {"requestId": cancelled, "reason": "moved on"}))
        _reached(script, AT_ONCE + 1)  # so both cancellations were read
        script.release.set()
        found = server.answers(set(ids[1:-1]), timeout=60)
        assert all(found[i]["result"]["isError"] is False for i in ids[1:-1])
        assert server.close_stdin() < 15
        assert script.calls == CALLS - 1  # the waiting one never left
        assert not any(m.get("id") in (last, running) for m in server.messages)


def _request(id_: int, ran: list[int], release: anyio.Event) -> LeanRequest:
    async def run() -> dict[str, Any] | None:
        ran.append(id_)
        await release.wait()
        return None

    return LeanRequest(id_, b"", run)


def test_calls_beyond_at_once_wait_as_requests_not_tasks_in_order() -> None:
    async def main() -> None:
        waiting, ran, release = Waiting(at_once=3), [], anyio.Event()
        before = len(asyncio.all_tasks())

        async def run_one(request: LeanRequest) -> None:
            await request.run()

        async with anyio.create_task_group() as tg:
            for i in range(10):
                request = _request(i, ran, release)
                if waiting.start(request):
                    tg.start_soon(waiting.run, request, run_one)
            await anyio.wait_all_tasks_blocked()
            assert ran == [0, 1, 2]
            assert len(asyncio.all_tasks()) - before == 3
            assert len(waiting) == 7
            assert waiting.drop(5)
            assert not waiting.drop(5)
            assert not waiting.drop(0)
            release.set()
        assert ran == [0, 1, 2, 3, 4, 6, 7, 8, 9]
        assert len(waiting) == 0
        assert waiting.start(_request(10, ran, release))

    anyio.run(main)


def test_clear_takes_every_waiting_request_out() -> None:
    waiting, ran, release = Waiting(at_once=1), [], anyio.Event()
    assert waiting.start(_request(0, ran, release))
    assert not waiting.start(_request(1, ran, release))
    assert not waiting.start(_request(2, ran, release))
    assert [r.id for r in waiting.clear()] == [1, 2]
    assert len(waiting) == 0
