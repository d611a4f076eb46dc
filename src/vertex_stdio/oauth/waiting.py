"""One caller waiting for an interactive sign-in: progress, the link offered through the client,
and the moment to stop waiting.

A tool call stops waiting (and answers ``AUTH_REQUIRED`` with the link) as soon as the person
cannot be reached: no browser could be opened and the client cannot show the link, or the
person declined (or cancelled) the link the client showed.  The sign-in itself goes on in the
background, so the link still works.  Progress never says "in your browser" unless one opened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vertex_stdio.core.credentials import SignInPrompt

log = logging.getLogger(__name__)

STEP = 0.2
PROGRESS_EVERY = 3.0
NO_BROWSER = "No browser could be opened here, so this call was not made. Open the sign-in link yourself."
DECLINED = "You declined the sign-in link, so this call was not made."


def _offer_failed(offer: asyncio.Task[str]) -> None:
    if not offer.cancelled() and offer.exception() is not None:
        log.info(
            "The client could not show the sign-in link (%s); it is on stderr",
            type(offer.exception()).__name__,
        )


class Waiting:
    """Step it until it says stop; then ``gave_up_because`` is None when the sign-in task ended."""

    def __init__(
        self,
        prompt: SignInPrompt | None,
        limit: float,
        clock: Callable[[], float],
        *,
        brand: str,
        needs_person: bool,
    ) -> None:
        self.gave_up_because: str | None = None
        self._prompt = prompt
        self._limit = limit
        self._clock = clock
        self._brand = brand
        self._needs_person = needs_person
        self._started = clock()
        self._deadline = time.monotonic() + limit
        self._last_progress = time.monotonic()
        self._offer: asyncio.Task[str] | None = None

    async def step(self, task: asyncio.Future[None], url: str | None, opened: bool | None) -> bool:
        """Wait a moment for ``task`` (done when the sign-in ended); True when done waiting (it
        ended, or see ``gave_up_because``)."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self.gave_up_because = "The sign-in was not completed in time."
            return True
        pending: set[asyncio.Future[Any]] = {task} | (
            {self._offer} if self._offer is not None and not self._offer.done() else set()
        )
        await asyncio.wait(pending, timeout=min(STEP, remaining), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return True
        if self._prompt is not None and self._offer is None and url:
            # The client may hold the offer open until the person answers it: it runs beside the wait.
            self._offer = asyncio.ensure_future(
                self._prompt.offer_url(url, f"Sign in to {self._brand} to continue.")
            )
            self._offer.add_done_callback(_offer_failed)
        answer = self._answer()
        if answer in ("decline", "cancel"):
            self.gave_up_because = DECLINED
            return True
        if self._needs_person and opened is False and self._unreachable(answer):
            self.gave_up_because = NO_BROWSER
            return True
        await self._progress(opened, answer)
        return False

    def _answer(self) -> str | None:
        """The client's answer to the offer: None while it is open or not made yet."""
        offer = self._offer
        if offer is None or not offer.done():
            return None
        if offer.cancelled() or offer.exception() is not None:
            return "unsupported"
        return offer.result()

    def _unreachable(self, answer: str | None) -> bool:
        if self._prompt is None:
            return True
        return self._offer is not None and self._offer.done() and answer != "accept"

    async def _progress(self, opened: bool | None, answer: str | None) -> None:
        if self._prompt is None or time.monotonic() - self._last_progress < PROGRESS_EVERY:
            return
        self._last_progress = time.monotonic()
        where = ""
        if opened:
            where = " in your browser"
        elif answer == "accept":
            where = " at the link your client opened"
        await self._prompt.progress(
            f"Waiting for you to sign in to {self._brand}{where}…", self._clock() - self._started, self._limit
        )

    def close(self) -> None:
        """Withdraw an offer still open in the client."""
        if self._offer is not None and not self._offer.done():
            self._offer.cancel()
