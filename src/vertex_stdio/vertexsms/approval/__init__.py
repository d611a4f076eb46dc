"""Approval of a send in the browser, for clients that cannot show a form.

``Approvals`` is the process's: the ``Desk`` of approvals (desk.py, pure state on a clock), the
loopback page that takes the person's decision (page_server.py, started when first needed and
closed when nothing waits for it) and the browser opener (a seam).  The tool side, which decides
when to ask and what the call answers, is ``tools/approve.py``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from vertex_stdio.vertexsms.approval.desk import LIFETIME, Approval, Desk, Summary, send_key

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.approval.page_server import PageServer

__all__ = ["Approval", "Approvals", "Summary", "send_key"]

Opener = Callable[[str], Awaitable[bool]]
"""Opens a URL in the person's browser; True when a browser was launched."""

WAIT = 120.0
"""How long a call waits for the person's decision before it answers CONFIRMATION_REQUIRED."""


class Approvals:
    """The process's approvals, their page and the way a link is opened."""

    def __init__(
        self,
        *,
        opener: Opener | None = None,
        clock: Callable[[], float] = time.time,
        wait: float = WAIT,
        lifetime: float = LIFETIME,
    ) -> None:
        """``opener``: default, the system browser (``oauth.io.browser``, imported when first used:
        a server that never needs an approval loads none of the sign-in code)."""
        self.desk = Desk(clock, lifetime)
        self.opener = opener or _system_browser
        self.wait = wait
        self._pages: PageServer | None = None

    async def create(self, key: str, summary: Summary) -> Approval:
        """A new pending approval of the send ``key``, its page served."""
        if self._pages is None:
            from vertex_stdio.vertexsms.approval.page_server import PageServer

            self._pages = PageServer(self.desk)
        if not self._pages.running:
            await self._pages.start()
        return self.desk.create(key, summary)

    def url(self, approval: Approval) -> str:
        """The one-time link of ``approval`` (made by ``create``)."""
        if self._pages is None:
            raise RuntimeError("Approvals.create() was not awaited")
        return self._pages.url(approval)

    async def settle(self) -> None:
        """Close the page when no approval waits for a decision any more."""
        if self._pages is not None and not self.desk.any_open():
            await self._pages.aclose()

    async def aclose(self) -> None:
        """Close the page (at the end of the process)."""
        if self._pages is not None:
            await self._pages.aclose()


async def _system_browser(url: str) -> bool:
    from vertex_stdio.oauth.io.browser import open_in_browser

    return await open_in_browser(url)
