"""``OAuthTokenProvider``: the token seam backed by a browser sign-in with silent refresh.

Fast path: a usable access token in memory, with no lock and no I/O.  Slow path, single-flight
per process (an asyncio lock): adopt what another process stored, else refresh (``renewal``),
else one interactive sign-in (``running``), shared through a file lock by every process.  The
call that starts it waits for it (``waiting``: not when no one can be reached); calls arriving
meanwhile join it, or answer ``AuthRequired`` with its link at once when no browser opened.  A
failed or abandoned sign-in, or one whose token the server refused before ever accepting it, is
not reopened automatically for ``RETRY_AFTER_FAILURE`` seconds.  ``login`` runs it as a loopback
redirect (or a pasted answer) or as the device grant.  What it knows between calls is one
``SignInState`` (``oauth/protocol/signin_state.py``) replaced by pure transitions; this class is
the I/O around them (store, locks, HTTP, browser), on ``silent.SilentTokens`` (what it holds and
renews without a person).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import anyio
import httpx2

from vertex_stdio.core.credentials import SignInPrompt
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.tasks import LooseTasks, Spawner
from vertex_stdio.oauth.discovery import cached_target, client_source
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol import signin_state as st
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import Target
from vertex_stdio.oauth.renewal import lock_name, persist
from vertex_stdio.oauth.running import RunningSignIn, SignInTask
from vertex_stdio.oauth.silent import SilentTokens
from vertex_stdio.oauth.storage.state import Lock, LockTimeout
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

if TYPE_CHECKING:  # imported where a sign-in runs: a kept sign-in's calls never load them (~5 ms)
    from vertex_stdio.oauth.device import DeviceFlow
    from vertex_stdio.oauth.io.browser import Opener
    from vertex_stdio.oauth.signin import Flow

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = st.RETRY_AFTER_FAILURE
SIGNIN_LIFETIME = 300.0


async def _system_browser(url: str) -> bool:
    """The default opener, ``io.browser.open_in_browser``, imported when a sign-in first opens a link."""
    from vertex_stdio.oauth.io.browser import open_in_browser

    return await open_in_browser(url)


class OAuthTokenProvider(SilentTokens):
    """Implements ``credentials.TokenProvider`` with OAuth 2.1 (source ``"oauth"``)."""

    source = "oauth"

    def __init__(
        self,
        profile: SignInProfile,
        store: TokenStore | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        opener: Opener | None = None,
        clock: Callable[[], float] | None = None,
        *,
        client_metadata_url: str | None = None,
        open_browser: bool = True,
        log_link: bool = True,
        reports_acceptance: bool = False,
        tasks: Spawner | None = None,
    ) -> None:
        """``log_link`` False: the caller shows the link itself (``login``), so the log never holds it.

        ``reports_acceptance``: the caller tells ``accepted`` each token the server took, so a
        browser sign-in whose token is refused before it was ever accepted counts as failed.
        ``tasks``: where sign-ins run (see ``run_tasks_in``); by default loose tasks of the running loop.
        """
        super().__init__(profile, store, transport, clock, client_metadata_url=client_metadata_url)
        self._opener: Opener = opener or _system_browser
        self._open_browser = open_browser
        self._log_link = log_link
        self._reports_acceptance = reports_acceptance
        self._lock = asyncio.Lock()
        self._running = RunningSignIn()
        self._tasks: Spawner = tasks or LooseTasks()
        self._device = False

    @property
    def _lifetime(self) -> float:
        """How long a started sign-in keeps its callback open (a call may stop waiting sooner)."""
        return max(SIGNIN_LIFETIME, self._profile.signin_timeout)

    def run_tasks_in(self, tasks: Spawner) -> None:
        """Run sign-ins from now on in ``tasks``: the task group of the process's run, which
        outlives every call (``core.tasks.Hosted``; ending the run cancels a sign-in left)."""
        self._tasks = tasks

    async def aclose(self) -> None:
        """Cancel a sign-in still waiting for its browser, close its port, close HTTP."""
        await self._running.cancel()
        await self._http.aclose()

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        """A usable access token; may refresh or run (and wait for) a sign-in; else ``AuthRequired``."""
        tokens = st.usable(self._s, self._clock())
        if tokens is not None:
            if self._still_signed_in():
                return tokens.access_token
            raise self._signed_out()
        async with self._lock:
            tokens = await self._silent()
            if tokens is not None:
                return tokens.access_token
            if self._profile.machine is not None:
                return (await self._unattended(tuple(scopes))).access_token
            task = self._start_signin(tuple(scopes))
        return (await self._wait(task, prompt, self._profile.signin_timeout, needs_person=True)).access_token

    async def silent_token(self) -> str | None:
        """A usable access token without a browser (memory, the store or a refresh); else None.

        With no sign-in kept at all it answers None at once, without discovery: a request sent
        without a token tells whether the server wants one (its 401, see ``challenged``).
        """
        tokens = st.usable(self._s, self._clock())
        if tokens is not None:
            return tokens.access_token
        if (
            self._s.tokens is None
            and not self.store.read_state().get("sessions")
            and self._profile.machine is None
        ):
            return None
        async with self._lock:
            try:
                tokens = await self._silent()
                if tokens is None and self._profile.machine is not None and self._s.header_url is not None:
                    tokens = await self._unattended(())  # no person needed: renew as the client
            except AuthRequired:
                return None
        return tokens.access_token if tokens is not None else None

    async def unattended_token(self) -> str | None:
        """For an unattended sign-in (``profile.machine``): a usable access token got without a
        word to the resource -- memory, the store, a refresh, else the client's own grant at the
        token endpoint (``_unattended``, the request ``token`` makes after the resource's 401) --
        only when the discovery is cached (finding it would probe the resource without a token);
        else None.  Errors of the token endpoint or the network are raised as they come."""
        if self._profile.machine is None:
            return None
        tokens = st.usable(self._s, self._clock())
        if tokens is not None:
            return tokens.access_token
        async with self._lock:
            if await cached_target(self._http, self.store, self._profile, self._clock()) is None:
                return None
            try:
                tokens = await self._silent()
            except AuthRequired:
                return None
            if tokens is None:
                tokens = await self._unattended(())
        return tokens.access_token

    async def _unattended(self, scopes: tuple[str, ...]) -> Tokens:
        """A new token set obtained by the client itself (``profile.machine``), kept like a sign-in's."""
        from vertex_stdio.oauth.machine import machine_tokens

        assert self._profile.machine is not None
        target = await self.target()
        chosen = self._scopes_for(target, scopes)
        tokens = await machine_tokens(self._http, self._profile.machine, target, chosen, self._clock())
        key = SessionKey(target.server.issuer, target.resource, self._profile.machine.client_id)
        await persist(self.store, key, tokens)
        self._s = replace(self._s, stepup=None, rejected=None, failed_at=None)
        log.info("signed in to %s as the client itself", self._profile.display_name)
        return self._adopt(key, tokens)

    async def signin(
        self, scopes: Sequence[str], *, wait: float | None = None, device: bool = False
    ) -> Tokens:
        """Run a sign-in now and wait ``wait`` seconds for it (``start_signin``, ``finish_signin``)."""
        return await self.finish_signin(await self.start_signin(scopes, device=device), wait=wait)

    async def start_signin(self, scopes: Sequence[str], *, device: bool = False) -> SignInTask:
        """Start a sign-in now (``vertex-stdio login``), ignoring the retry pause; it runs in the
        run's task group, and ``wait_for_url`` gives its link from now on.

        ``device`` uses the device authorization grant (RFC 8628) instead of the loopback redirect.
        """
        async with self._lock:
            self._s, self._device = replace(self._s, failed_at=None), device
            return self._start_signin(tuple(scopes), forced=True)

    async def finish_signin(self, task: SignInTask, *, wait: float | None = None) -> Tokens:
        """The tokens of ``task`` (from ``start_signin``) once it ends; ``AuthRequired`` after
        ``wait`` seconds (by default the sign-in's lifetime); its own error when it failed."""
        return await self._wait(task, None, wait or self._lifetime, needs_person=False)

    @property
    def flow(self) -> Flow | DeviceFlow | None:
        """The sign-in waiting for the person, if any (``login`` shows its link or user code)."""
        return self._running.flow

    def paste(self, text: str) -> str | None:
        """Finish the waiting sign-in with an answer pasted on the terminal; else why not."""
        return self._running.paste(text)

    async def wait_for_url(self, within: float) -> str | None:
        """The authorization URL of the running sign-in, once it is ready (None after ``within`` s)."""
        return await self._running.wait_for_url(within)

    # -- interactive sign-in -------------------------------------------------------------------

    def _start_signin(self, scopes: tuple[str, ...], *, forced: bool = False) -> SignInTask:
        running = self._running
        if running.task is not None and running.active:
            if not forced and running.opened is False:
                # No browser opened for it: waiting could not help, so answer at once with its link.
                raise self._auth_required("A sign-in is already waiting for you to finish it.")
            return running.task
        paused = st.pause_reason(self._s, self._clock(), forced=forced)
        if paused is not None:
            raise self._auth_required(paused)
        return running.start(self._tasks, partial(self._run_signin, scopes, forced), self._signin_done)

    def _signin_done(self, task: SignInTask) -> None:
        # A port that could not be bound opened nothing: no abandoned sign-in, so no pause.
        from vertex_stdio.oauth.io.receiver import CallbackPortUnavailable

        failed = task.cancelled() or not isinstance(task.exception(), CallbackPortUnavailable | None)
        self._s = st.signin_ended(self._s, self._clock(), failed=failed)

    async def _run_signin(self, scopes: tuple[str, ...], forced: bool) -> Tokens:
        target = await self.target()
        if not self.store.secrets.persistent:
            # Memory-only processes cannot hand a sign-in to each other: each signs in itself.
            return await self._interactive(target, self._scopes_for(target, scopes))
        lock = self.store.lock(lock_name("signin", target), self._lifetime)
        if not lock.try_acquire():
            return await self._follow(target, lock)
        try:
            key = self._session_key(target)
            stored = await self.store.load(key) if key and not forced and self._s.stepup is None else None
            if (
                stored is not None
                and stored.usable(self._clock())
                and stored.access_token != self._s.rejected
            ):
                return self._adopt(key, stored) if key else stored
            return await self._interactive(target, self._scopes_for(target, scopes))
        finally:
            lock.release()

    async def _interactive(self, target: Target, scopes: tuple[str, ...]) -> Tokens:
        from vertex_stdio.oauth.device import begin as begin_device
        from vertex_stdio.oauth.signin import begin

        client_for = client_source(
            self._http,
            self.store,
            target.server,
            self._profile,
            metadata_url=self._metadata_url,
        )
        flow: Flow | DeviceFlow
        if self._device:
            flow = await begin_device(self._http, target, client_for, scopes, self._profile)
        else:
            flow = await begin(self._http, target, client_for, scopes, self._profile)
        try:
            return await self._drive(flow)
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled sign-in still closes its port
                await flow.aclose()

    async def _drive(self, flow: Flow | DeviceFlow) -> Tokens:
        from vertex_stdio.oauth.signin import Flow

        if isinstance(flow, Flow) and self._log_link:
            log.warning("Sign in to %s in your browser: %s", self._profile.display_name, flow.url)
        tokens = await self._running.complete(
            flow,
            self._opener if self._open_browser else None,
            self._lifetime,
            self._clock,
            late=lambda: self._auth_required("The sign-in was not completed in time."),
        )
        key = SessionKey(flow.target.server.issuer, flow.target.resource, flow.client.client_id)
        await persist(self.store, key, tokens)
        self._s = st.signed_in(self._s, tokens, watch_acceptance=self._reports_acceptance)
        log.info(
            "signed in to %s (%s)", self._profile.display_name, " ".join(tokens.scopes) or "default scopes"
        )
        return self._adopt(key, tokens)

    async def _follow(self, target: Target, lock: Lock) -> Tokens:
        """Another process owns the sign-in: wait for its lock, then use what it stored."""
        log.info("another vertex-stdio process is signing in; waiting for it")
        try:
            await lock.acquire()
        except LockTimeout:
            raise self._auth_required("A sign-in in another window has not finished.") from None
        lock.release()
        key = self._session_key(target)
        stored = await self.store.load(key) if key else None
        if key is None or stored is None:
            raise self._auth_required("The sign-in in another window did not complete.")
        return self._adopt(key, stored)

    async def _wait(
        self, task: SignInTask, prompt: SignInPrompt | None, limit: float, *, needs_person: bool
    ) -> Tokens:
        """Wait for ``task``; a tool call (``needs_person``) stops as soon as no one can be reached."""
        from vertex_stdio.oauth.waiting import Waiting

        waiting = Waiting(
            prompt, limit, self._clock, brand=self._profile.display_name, needs_person=needs_person
        )
        return await self._running.wait(task, waiting, self._auth_required)

    def _auth_required(self, why: str) -> AuthRequired:
        return self._running.auth_required(why, self._profile.advice.sign_in)

    @property
    def _signin(self) -> SignInTask | None:
        """The running (or last) sign-in task."""
        return self._running.task
