"""``Lane``: one worker thread of the journal's own, for the store writes that must not run on
the event loop (a team database's round trips, a SQLite lock held by another process).

Why not ``anyio.to_thread.run_sync``: a billable call hands two writes to a thread (``begin``,
``finish``), each after the loop sat idle for the request's length, and anyio's hand-off costs
about 0.24 ms of CPU and wall time there (its capacity limiter, its worker pool's bookkeeping);
a job on a ``SimpleQueue`` to a waiting thread, answered with ``call_soon_threadsafe``, about
0.1 ms (``benchmarks/run.py`` section 8 is the figure this serves; README "Teams").

Jobs run one at a time, in order: the journal's stores serialise their writes anyway (one
connection, one file lock).  A job, once handed over, runs to its end even if the caller is
cancelled (as anyio's does: the caller waits, shielded), so a ``pending`` record is never
half-written and its result never lost.  The thread starts on first use and ends after
``IDLE_S`` without a job (or at ``close``); a loop that is not asyncio's uses anyio's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
IDLE_S = 30.0
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class Lane:
    """A worker thread that runs the jobs it is given one at a time (see the module's text)."""

    def __init__(self, name: str = "vertex-stdio-journal", *, idle: float = IDLE_S) -> None:
        self._name = name
        self._idle = idle
        self._guard = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] | None = None  # the running thread's

    async def run(self, job: Callable[[], T]) -> T:
        """``job()`` on the lane's thread; its result, or what it raised."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (anyio on trio)
            return await anyio.to_thread.run_sync(job)
        done: asyncio.Future[T] = loop.create_future()
        with self._guard:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._work, args=(self._jobs,), name=self._name, daemon=True).start()
            self._jobs.put((loop, done, job))
        with anyio.CancelScope(shield=True):
            return await done
        raise AssertionError("unreachable")  # the scope has no deadline: it cancels nothing

    def close(self) -> None:
        """Let the thread end once the jobs already given are done."""
        with self._guard:
            if self._jobs is not None:
                self._jobs.put(None)
                self._jobs = None

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        """The thread: ``jobs`` (its own queue) until ``close``, or ``idle`` seconds without one."""
        while True:
            try:
                given = jobs.get(timeout=self._idle)
            except queue.Empty:
                with self._guard:  # a job put meanwhile keeps this thread: it was counted on
                    if jobs.empty():
                        if self._jobs is jobs:
                            self._jobs = None
                        return
                continue
            if given is None:
                return
            loop, done, job = given
            try:
                result = job()
            except BaseException as exc:  # noqa: BLE001 (handed back: the caller must never wait forever)
                _answer(loop, done, None, exc)
            else:
                _answer(loop, done, result, None)


def _answer(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    def settle() -> None:
        if done.done():
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for the answer
        loop.call_soon_threadsafe(settle)
