"""The journal's lane: the one worker thread a store's waiting writes run on (``lane.py``).

Jobs come back with their result or their exception, run one at a time in the order given, on a
thread that is not the event loop's; a caller cancelled while its job runs still waits for it
(the job's result is never lost, as with anyio's threads); the thread ends when closed or idle
and a later job starts another."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from vertex_stdio.vertexsms.journal.lane import Lane

pytestmark = pytest.mark.anyio

WAIT_S = 10.0  # a bound on waiting for the lane's thread, never a measured time


def lane_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


async def test_results_and_errors_come_back_in_order_off_the_loop() -> None:
    lane = Lane("lane-order")
    ran: list[tuple[int, str]] = []

    def job(n: int) -> Callable[[], int]:
        def work() -> int:
            ran.append((n, threading.current_thread().name))
            return n * 10

        return work

    def broken() -> int:
        raise ValueError("the store said no")

    try:
        results: list[int] = []

        async def one(n: int) -> None:
            results.append(await lane.run(job(n)))

        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(one, n)
        assert sorted(results) == [0, 10, 20, 30, 40]
        assert [n for n, _ in ran] == [0, 1, 2, 3, 4]  # in the order given
        assert [name for _, name in ran] == ["lane-order"] * 5  # one thread, not the loop's
        with pytest.raises(ValueError, match="the store said no"):
            await lane.run(broken)
        assert await lane.run(job(7)) == 70  # a failed job leaves the lane working
    finally:
        lane.close()


async def test_jobs_run_one_at_a_time() -> None:
    """A second job waits for the first (the stores serialise their writes: one connection)."""
    lane = Lane("lane-serial")
    first_in, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        order.append("first started")
        first_in.set()
        release.wait(WAIT_S)
        order.append("first done")

    def second() -> None:
        order.append("second")

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(lane.run, first)
            await anyio.to_thread.run_sync(first_in.wait, WAIT_S)
            group.start_soon(lane.run, second)
            await anyio.wait_all_tasks_blocked()
            assert order == ["first started"]
            release.set()
        assert order == ["first started", "first done", "second"]
    finally:
        release.set()
        lane.close()


async def test_a_cancelled_caller_still_gets_its_jobs_result() -> None:
    """Cancelled while its job runs, the caller waits for the job and returns its result (a
    ``pending`` record begun on the lane is never lost to a cancellation)."""
    lane = Lane("lane-cancel")
    inside, release = threading.Event(), threading.Event()
    got: list[str] = []

    def job() -> str:
        inside.set()
        release.wait(WAIT_S)
        return "recorded"

    async def caller() -> None:
        got.append(await lane.run(job))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(caller)
            await anyio.to_thread.run_sync(inside.wait, WAIT_S)
            group.cancel_scope.cancel()
            release.set()
        assert got == ["recorded"]
    finally:
        release.set()
        lane.close()


@pytest.mark.slow
async def test_the_thread_ends_when_idle_or_closed_and_comes_back() -> None:
    lane = Lane("lane-idle", idle=0.05)
    assert await lane.run(lambda: 1) == 1
    (thread,) = lane_threads("lane-idle")
    await anyio.to_thread.run_sync(thread.join, WAIT_S)
    assert not thread.is_alive()  # idle: gone
    assert await lane.run(lambda: 2) == 2  # a new one
    (again,) = lane_threads("lane-idle")
    assert again is not thread
    lane.close()
    await anyio.to_thread.run_sync(again.join, WAIT_S)
    assert not again.is_alive()  # closed: gone
    assert await lane.run(lambda: 3) == 3
    lane.close()
