"""The one interactive sign-in a token provider runs at a time: its task, its link, its flow.

Calls that need a person start it or join it; the call that started it may stop waiting (see
``waiting``) while it goes on in the background until the browser answers or its lifetime ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.oauth.device import DeviceFlow
from vertex_stdio.oauth.io.browser import Opener
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.signin import Flow
from vertex_stdio.oauth.waiting import Waiting

log = logging.getLogger(__name__)


class RunningSignIn:
    """The sign-in in progress (if any) and what a waiting call may tell the person about it."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Tokens] | None = None
        self.url: str | None = None
        """The running sign-in's link, once it has one."""
        self.last_url: str | None = None
        """The link of the last sign-in, kept for messages after it ended."""
        self.flow: Flow | DeviceFlow | None = None
        """The flow waiting for the person (``login`` shows its link or user code)."""
        self.opened: bool | None = None
        """Whether a browser opened for it (None: not known yet)."""
        self._url_ready = asyncio.Event()

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(
        self, run: Coroutine[Any, Any, Tokens], ended: Callable[[asyncio.Task[Tokens]], None]
    ) -> asyncio.Task[Tokens]:
        """Run ``run`` in the background; ``ended`` sees its task when it is over, however it ends."""
        self.url, self._url_ready = None, asyncio.Event()
        self.task = asyncio.create_task(run)
        self.task.add_done_callback(ended)
        self.task.add_done_callback(lambda _: self._url_ready.set())
        return self.task

    def showing(self, flow: Flow | DeviceFlow) -> None:
        """The flow now waits for the person at ``flow.url``."""
        self.flow, self.opened = flow, None
        self.url = self.last_url = flow.url
        self._url_ready.set()

    def paste(self, text: str) -> str | None:
        """Finish the waiting sign-in with an answer pasted on the terminal; else why not."""
        if self.flow is None:
            return "No sign-in is waiting for an answer."
        return self.flow.paste(text)

    async def open(self, opener: Opener) -> None:
        """Open the link in a browser; remember whether one opened (waiting calls ask)."""
        if self.url is not None:
            self.opened = await opener(self.url)
            if not self.opened:
                log.warning("No browser could be opened; open the sign-in link above yourself.")

    async def wait_for_url(self, within: float) -> str | None:
        """The running sign-in's link once it is ready (None after ``within`` seconds)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._url_ready.wait(), within)
        return self.url

    async def cancel(self) -> None:
        """Stop a sign-in still waiting for its browser (its port closes)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, VertexError):
                await self.task

    async def wait(
        self,
        task: asyncio.Task[Tokens],
        waiting: Waiting,
        auth_required: Callable[[str], AuthRequired],
    ) -> Tokens:
        """Wait for ``task`` as ``waiting`` allows; ``AuthRequired`` when it gives up."""
        try:
            while not await waiting.step(task, self.url, self.opened):
                pass
        finally:
            waiting.close()
        if waiting.gave_up_because is not None:
            raise auth_required(waiting.gave_up_because)
        return task.result()

    def auth_required(self, why: str, sign_in: str) -> AuthRequired:
        """``AuthRequired`` saying ``why``, with the sign-in link when there is one, then ``sign_in``."""
        url = self.url or self.last_url
        where = f" Sign-in link: {url} ." if url else ""
        return AuthRequired(f"{why}{where} {sign_in}", authorization_url=url)
