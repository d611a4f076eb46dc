"""Calm refreshes: however often a refresh is asked for, at most one runs and one more waits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

SETTLE = 0.2
"""Seconds a refresh waits before it starts, so a burst of notifications becomes one refresh."""


class Calm:
    """Runs ``job`` when asked: a request while it runs (or waits to) makes one more run, not one each.

    A remote may send thousands of ``list_changed`` notifications; each would otherwise start its
    own fetch of every list.  ``job`` must not raise (it logs its own failures).
    """

    def __init__(self, job: Callable[[], Awaitable[None]], settle: float = SETTLE) -> None:
        self._job = job
        self._settle = settle
        self._running = False
        self._pending = False

    def request(self, task_group: TaskGroup) -> None:
        """Ask for a run: started in ``task_group`` unless one is under way (then one more follows)."""
        if self._running:
            self._pending = True
            return
        self._running = True
        task_group.start_soon(self._runs)

    async def _runs(self) -> None:
        try:
            while True:
                await anyio.sleep(self._settle)
                self._pending = False  # what arrived while settling is served by this run
                await self._job()
                if not self._pending:
                    return
        finally:
            self._running = False
