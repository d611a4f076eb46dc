"""One caller waiting for an interactive sign-in: progress, the link offered through the client,
and the moment to stop waiting.

A tool call stops waiting (and answers ``AUTH_REQUIRED`` with the link) as soon as the person
cannot be reached: no browser could be opened and the client cannot show the link, or the
person declined (or cancelled) the link the client showed.  The sign-in itself goes on in the
background, so the link still works.  Progress never says "in your browser" unless one opened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
from anyio.abc import TaskGroup

from vertex_stdio.core.credentials import SignInPrompt

log = logging.getLogger(__name__)

STEP = 0.2
PROGRESS_EVERY = 3.0
NO_BROWSER = "No browser could be opened here, so this call was not made. Open the sign-in link yourself."
DECLINED = "You declined the sign-in link, so this call was not made."


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
        self._offered = False  # the link was offered through the client
        self._answered = False  # the client answered the offer (or could not show it)
        self._answer: str | None = None
        self._pause: anyio.CancelScope | None = None  # a step's wait, cut short by the answer

    async def step(self, ended: anyio.Event, url: str | None, opened: bool | None, offers: TaskGroup) -> bool:
        """Wait a moment for ``ended`` (set when the sign-in ended) or the client's answer to the
        link offered (in ``offers``, the caller's task group); True when done waiting (it ended,
        or see ``gave_up_because``)."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self.gave_up_because = "The sign-in was not completed in time."
            return True
        with anyio.move_on_after(min(STEP, remaining)) as self._pause:
            await ended.wait()
        self._pause = None
        if ended.is_set():
            return True
        if self._prompt is not None and not self._offered and url:
            # The client may hold the offer open until the person answers it: it runs beside the wait.
            self._offered = True
            offers.start_soon(self._offer, self._prompt, url)
        answer = self._answer
        if answer in ("decline", "cancel"):
            self.gave_up_because = DECLINED
            return True
        if self._needs_person and opened is False and self._unreachable(answer):
            self.gave_up_because = NO_BROWSER
            return True
        await self._progress(opened, answer)
        return False

    async def _offer(self, prompt: SignInPrompt, url: str) -> None:
        """Offer the link; ``_answer`` is the client's answer ("unsupported" when it could not
        show it), None while the offer is open."""
        try:
            self._answer = await prompt.offer_url(url, f"Sign in to {self._brand} to continue.")
        except Exception as exc:  # noqa: BLE001 -- the link is on stderr still; the wait goes on
            log.info("The client could not show the sign-in link (%s); it is on stderr", type(exc).__name__)
            self._answer = "unsupported"
        self._answered = True
        if self._pause is not None:
            self._pause.cancel()  # the answer may end the wait: the step looks at it now

    def _unreachable(self, answer: str | None) -> bool:
        if self._prompt is None:
            return True
        return self._answered and answer != "accept"

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
