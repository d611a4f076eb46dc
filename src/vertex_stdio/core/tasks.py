"""Where work that outlives the call starting it runs: a task group owned by the process's run.

A sign-in started by one tool call goes on after that call stopped waiting, and other calls join
it, so it cannot live in the call's own task group.  Whoever owns the run (the serve runner for
``serve`` and ``connect``, the ``login`` command's run) holds a task group for such work and hands
it over (``Hosted.run_tasks_in``, or ``hosting``); an anyio task group is a ``Spawner``.  Ending the run cancels what is
still running there.  ``LooseTasks`` is the default when no run hands one over (tests, library use).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

import anyio


class Spawner(Protocol):
    """Starts a task that ends on its own or when its owner's run ends (``anyio.abc.TaskGroup``)."""

    def start_soon(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: object = None
    ) -> object: ...


@runtime_checkable
class Hosted(Protocol):
    """Something that starts work outliving its calls: the run gives it the task group for that
    work before serving (and cancels what is left when it ends)."""

    def run_tasks_in(self, tasks: Spawner) -> None: ...


def hosted(candidate: object) -> Hosted | None:
    """``candidate`` when it starts work beyond its calls (a browser sign-in), else None."""
    return candidate if isinstance(candidate, Hosted) else None


@contextlib.asynccontextmanager
async def hosting(*candidates: object) -> AsyncIterator[None]:
    """A task group for the block, given to each of ``candidates`` that is ``Hosted``; what is
    still running there when the block ends is cancelled.

    The block's own error comes out as itself: the hosted tasks never fail (a sign-in keeps its
    error for its waiters), so the task group's ExceptionGroup holds nothing else.
    """
    try:
        async with anyio.create_task_group() as tasks:
            for candidate in candidates:
                if (host := hosted(candidate)) is not None:
                    host.run_tasks_in(tasks)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


class LooseTasks:
    """A ``Spawner`` for when no run owns a task group: each task is an asyncio task of the running
    loop, held here until it ends (the loop itself holds tasks only weakly)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start_soon(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: object = None
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(func(*args), name=None if name is None else str(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
