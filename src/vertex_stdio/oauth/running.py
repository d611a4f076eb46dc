"""The one interactive sign-in a token provider runs at a time: its task, its link, its flow.

Calls that need a person start it or join it; the call that started it may stop waiting (see
``waiting``) while it goes on in the background until the browser answers or its lifetime ends.
It runs in the task group of the process's run (``core.tasks.Spawner``), in its own cancel scope:
its outcome (tokens or the error) is kept for every caller waiting on it, never raised into
that task group, and ending the run cancels it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

import anyio

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.tasks import Spawner
from vertex_stdio.oauth.protocol.core import Tokens

if TYPE_CHECKING:  # the flows are loaded when one runs: a kept sign-in never needs them
    from vertex_stdio.oauth.device import DeviceFlow
    from vertex_stdio.oauth.io.browser import Opener
    from vertex_stdio.oauth.signin import Flow
    from vertex_stdio.oauth.waiting import Waiting

log = logging.getLogger(__name__)


class SignInTask:
    """One sign-in running in a spawner's task group: its outcome, shared by all who wait for it."""

    def __init__(self) -> None:
        self.finished = anyio.Event()
        """Set when the sign-in has ended, however (cancelling a wait on it leaves the sign-in running)."""
        self._scope = anyio.CancelScope()
        self._tokens: Tokens | None = None
        self._error: Exception | None = None

    async def run(
        self, sign_in: Callable[[], Awaitable[Tokens]], ended: Callable[[SignInTask], None]
    ) -> None:
        """Run ``sign_in`` in this task's cancel scope; ``ended`` sees this task when it is over."""
        try:
            with self._scope:
                self._tokens = await sign_in()
        except Exception as exc:  # noqa: BLE001 - the waiters' answer, never the run's task group's failure
            self._error = exc
        finally:
            self.finished.set()
            ended(self)

    def done(self) -> bool:
        return self.finished.is_set()

    def cancelled(self) -> bool:
        """Ended without tokens or an error: cancelled (``cancel``, or the run ended)."""
        return self.done() and self._tokens is None and self._error is None

    def exception(self) -> Exception | None:
        return self._error

    def result(self) -> Tokens:
        """The tokens; else the sign-in's error; ``asyncio.CancelledError`` when it was cancelled."""
        if self._error is not None:
            raise self._error
        if self._tokens is None:
            raise asyncio.CancelledError("the sign-in was cancelled")
        return self._tokens

    def cancel(self) -> None:
        """Stop the sign-in (its port closes as it ends)."""
        self._scope.cancel()

    async def wait(self) -> None:
        """Until the sign-in has ended (cancelling this wait leaves the sign-in running)."""
        await self.finished.wait()

    def __await__(self) -> Generator[Any, None, Tokens]:
        return self._outcome().__await__()

    async def _outcome(self) -> Tokens:
        await self.wait()
        return self.result()


class RunningSignIn:
    """The sign-in in progress (if any) and what a waiting call may tell the person about it."""

    def __init__(self) -> None:
        self.task: SignInTask | None = None
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
        self, tasks: Spawner, run: Callable[[], Awaitable[Tokens]], ended: Callable[[SignInTask], None]
    ) -> SignInTask:
        """Run ``run`` in ``tasks``; ``ended`` sees its task when it is over, however it ends."""
        self.url, self._url_ready = None, asyncio.Event()
        task = self.task = SignInTask()

        def over(task: SignInTask) -> None:
            self._url_ready.set()
            ended(task)

        tasks.start_soon(task.run, run, over, name="sign-in")
        return task

    def showing(self, flow: Flow | DeviceFlow) -> None:
        """The flow now waits for the person at ``flow.url``."""
        self.flow, self.opened = flow, None
        self.url = self.last_url = flow.url
        self._url_ready.set()

    async def complete(
        self,
        flow: Flow | DeviceFlow,
        opener: Opener | None,
        lifetime: float,
        clock: Callable[[], float],
        *,
        late: Callable[[], AuthRequired],
    ) -> Tokens:
        """Show ``flow``, open its link with ``opener`` (None: the caller shows it) and wait up to
        ``lifetime`` seconds for its tokens; ``late()`` when that time ran out."""
        self.showing(flow)
        outcome: list[Tokens | Exception] = []
        # Some browsers (webbrowser's GenericBrowser) only return once they exit: open beside the
        # wait, and stop opening once it is over.  The outcome is kept, not raised, inside the task
        # group (which would wrap the sign-in's own error in an ExceptionGroup).
        async with anyio.create_task_group() as opening:
            if opener is not None:
                opening.start_soon(self.open, opener)
            outcome.append(await self._completed(flow, lifetime, clock, late))
            opening.cancel_scope.cancel()
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    async def _completed(
        self,
        flow: Flow | DeviceFlow,
        lifetime: float,
        clock: Callable[[], float],
        late: Callable[[], AuthRequired],
    ) -> Tokens | Exception:
        try:
            with anyio.fail_after(lifetime):
                return await flow.complete(clock)
        except TimeoutError:
            return late()
        except Exception as exc:  # noqa: BLE001 - raised by ``complete``, outside the opener's task group
            return exc
        finally:
            self.flow = None

    def paste(self, text: str) -> str | None:
        """Finish the waiting sign-in with an answer pasted on the terminal; else why not."""
        if self.flow is None:
            return "No sign-in is waiting for an answer."
        return self.flow.paste(text)

    async def open(self, opener: Opener) -> None:
        """Open the link in a browser; remember whether one opened (waiting calls ask)."""
        if self.url is not None:
            try:
                self.opened = await opener(self.url)
            except Exception:  # the opener's failure is no sign-in's failure: the link is shown
                log.warning("Opening a browser failed", exc_info=True)
                self.opened = False
            if not self.opened:
                log.warning("No browser could be opened; open the sign-in link above yourself.")

    async def wait_for_url(self, within: float) -> str | None:
        """The running sign-in's link once it is ready (None after ``within`` seconds)."""
        with anyio.move_on_after(within):
            await self._url_ready.wait()
        return self.url

    async def cancel(self) -> None:
        """Stop a sign-in still waiting for its browser, and wait until it has ended (its port closed)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await self.task.wait()

    async def wait(
        self,
        task: SignInTask,
        waiting: Waiting,
        auth_required: Callable[[str], AuthRequired],
    ) -> Tokens:
        """Wait for ``task`` as ``waiting`` allows; ``AuthRequired`` when it gives up.  The link
        offered through the client is offered in this wait's task group: an offer still open when
        the wait ends is withdrawn, and has ended, by the time this returns or raises."""
        async with anyio.create_task_group() as offers:
            while not await waiting.step(task.finished, self.url, self.opened, offers):
                pass
            offers.cancel_scope.cancel()
        if waiting.gave_up_because is not None:
            raise auth_required(waiting.gave_up_because)
        return task.result()

    def auth_required(self, why: str, sign_in: str) -> AuthRequired:
        """``AuthRequired`` saying ``why``, with the sign-in link when there is one, then ``sign_in``."""
        url = self.url or self.last_url
        where = f" Sign-in link: {url} ." if url else ""
        return AuthRequired(f"{why}{where} {sign_in}", authorization_url=url)
