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
the I/O around them (store, locks, HTTP, browser).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import httpx2

from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.oauth.device import DeviceFlow
from vertex_stdio.oauth.device import begin as begin_device
from vertex_stdio.oauth.discovery import client_source, find_target, known_client, known_client_id
from vertex_stdio.oauth.io.browser import Opener, open_in_browser
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.io.receiver import CallbackPortUnavailable
from vertex_stdio.oauth.machine import machine_tokens
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol import signin_state as st
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import Target
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy
from vertex_stdio.oauth.renewal import REFRESH_LOCK_TIMEOUT, lock_name, persist, renew
from vertex_stdio.oauth.running import RunningSignIn
from vertex_stdio.oauth.signin import Flow, begin
from vertex_stdio.oauth.storage.state import Lock, LockTimeout
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore, remember_secrets
from vertex_stdio.oauth.waiting import Waiting

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = st.RETRY_AFTER_FAILURE
SIGNIN_LIFETIME = 300.0


class OAuthTokenProvider:
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
    ) -> None:
        """``log_link`` False: the caller shows the link itself (``login``), so the log never holds it.

        ``reports_acceptance``: the caller tells ``accepted`` each token the server took, so a
        browser sign-in whose token is refused before it was ever accepted counts as failed.
        """
        self._profile = profile
        self._store_given = store
        self._http = OAuthHttp(
            timeout=profile.http_timeout, policy=UrlPolicy(profile.resource_url), transport=transport
        )
        self._opener = opener or open_in_browser
        self._clock = clock or time.time
        self._metadata_url = client_metadata_url
        self._open_browser = open_browser
        self._log_link = log_link
        self._reports_acceptance = reports_acceptance
        self._s = st.SignInState()
        self._key: SessionKey | None = None
        self._lock = asyncio.Lock()
        self._running = RunningSignIn()
        self._state_stamp: tuple[int, int, int] | None = None
        self._session_present = False
        self._device = False

    @property
    def _lifetime(self) -> float:
        """How long a started sign-in keeps its callback open (a call may stop waiting sooner)."""
        return max(SIGNIN_LIFETIME, self._profile.signin_timeout)

    @property
    def profile(self) -> SignInProfile:
        """Which server this provider signs in to, and the words it uses."""
        return self._profile

    @property
    def http(self) -> OAuthHttp:
        """The HTTP edge (shared with ``logout`` for revocation)."""
        return self._http

    @property
    def store(self) -> TokenStore:
        """The token store (built on first use: never at start-up)."""
        if self._store_given is None:
            self._store_given = TokenStore.default(self._profile)
        return self._store_given

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

    async def _unattended(self, scopes: tuple[str, ...]) -> Tokens:
        """A new token set obtained by the client itself (``profile.machine``), kept like a sign-in's."""
        assert self._profile.machine is not None
        target = await self.target()
        chosen = self._scopes_for(target, scopes)
        tokens = await machine_tokens(self._http, self._profile.machine, target, chosen, self._clock())
        key = SessionKey(target.server.issuer, target.resource, self._profile.machine.client_id)
        await persist(self.store, key, tokens)
        self._s = replace(self._s, stepup=None, rejected=None, failed_at=None)
        log.info("signed in to %s as the client itself", self._profile.display_name)
        return self._adopt(key, tokens)

    def challenged(self, challenge: Challenge) -> None:
        """The server answered 401 to a request sent without a token: where its metadata is
        (``resource_metadata``) and the scope it asks for (``scope``) serve the sign-in that follows."""
        self._s = replace(
            self._s,
            header_url=challenge.resource_metadata or self._s.header_url,
            challenge_scopes=challenge.scopes or self._s.challenge_scopes,
        )

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        """After a 401 (refresh or sign in, once) or 403 ``insufficient_scope`` (step up, once)."""
        name = self._profile.display_name
        if st.refuses_fresh(self._s, token, challenge):
            log.warning("%s refused the access token of the sign-in that had just completed", name)
        self._s, again = st.after_rejection(self._s, token, challenge, now=self._clock(), name=name)
        return again

    def accepted(self, token: str) -> None:
        """The server answered a request made with ``token`` (not with 401/403)."""
        self._s = st.accepted(self._s, token)

    async def signin(
        self, scopes: Sequence[str], *, wait: float | None = None, device: bool = False
    ) -> Tokens:
        """Run a sign-in now (``vertex-stdio login``): ignores the retry pause; waits ``wait`` seconds.

        ``device`` uses the device authorization grant (RFC 8628) instead of the loopback redirect.
        """
        async with self._lock:
            self._s, self._device = replace(self._s, failed_at=None), device
            task = self._start_signin(tuple(scopes), forced=True)
        return await self._wait(task, None, wait or self._lifetime, needs_person=False)

    @property
    def flow(self) -> Flow | DeviceFlow | None:
        """The sign-in waiting for the person, if any (``login`` shows its link or user code)."""
        return self._running.flow

    def paste(self, text: str) -> str | None:
        """Finish the waiting sign-in with an answer pasted on the terminal; else why not."""
        return self._running.paste(text)

    async def kept(self) -> bool:
        """True when the current sign-in is in the store (so later runs and other processes have it)."""
        if self._key is None or self._s.tokens is None:
            return False
        try:
            stored = await self.store.load(self._key)
        except VertexError:
            return False
        return stored is not None and stored.access_token == self._s.tokens.access_token

    async def wait_for_url(self, within: float) -> str | None:
        """The authorization URL of the running sign-in, once it is ready (None after ``within`` s)."""
        return await self._running.wait_for_url(within)

    async def target(self) -> Target:
        """Discovery results (cached in the state file; fetched again once after a 401)."""
        target = await find_target(
            self._http,
            self.store,
            self._profile,
            self._s.header_url,
            self._clock(),
            fresh=self._s.rediscover,
        )
        self._s = replace(self._s, rediscover=False)
        return target

    # -- silent paths -------------------------------------------------------------------------

    async def _silent(self) -> Tokens | None:
        """Memory, the store (another process's work), or a refresh; None when a sign-in is needed."""
        now = self._clock()
        if self._s.stepup is not None:
            return None
        if (in_memory := st.usable(self._s, now)) is not None:
            if self._still_signed_in():
                return in_memory
            raise self._signed_out()
        target = await self.target()
        key = self._session_key(target)
        if key is None:
            return None
        stored = await self.store.load(key)
        if stored is not None and stored.usable(now) and stored.access_token != self._s.rejected:
            return self._adopt(key, stored)
        if stored is None and self._signed_out_elsewhere(key):
            raise self._signed_out()
        current = stored or (self._s.tokens if self._key == key else None)
        if current is None or not current.refresh_token:
            return None
        return await self._refresh(target, key, current)

    def _session_key(self, target: Target) -> SessionKey | None:
        client_id = known_client_id(self.store, target.server, self._profile.client_id, self._metadata_url)
        return SessionKey(target.server.issuer, target.resource, client_id) if client_id else None

    def _still_signed_in(self) -> bool:
        """False once another process removed this sign-in (logout): one ``stat`` per call.

        The state file is re-read only when its stamp changed; a session that was there and is
        gone means a logout, so the in-memory access token must not be used any more.
        """
        stamp = self.store.state_stamp()
        if stamp == self._state_stamp:
            return True
        self._state_stamp = stamp
        key = self._key
        present = key is not None and key.account in self.store.sessions()
        was, self._session_present = self._session_present, present
        return present or not was

    def _signed_out_elsewhere(self, key: SessionKey) -> bool:
        """True when this process holds a sign-in whose record another process removed (logout)."""
        return self._s.tokens is not None and self._key == key and key.account not in self.store.sessions()

    def _signed_out(self) -> AuthRequired:
        """Forget the in-memory sign-in; pause automatic sign-ins as after a failed one (no tab storm)."""
        advice = self._profile.advice
        log.warning(
            "signed out in another window (%s); this process forgets the sign-in", advice.logout_command
        )
        name = self._profile.display_name
        self._s = st.signed_out(self._s, self._clock(), name)
        return AuthRequired(f"You signed out of {name} ({advice.logout_command}). {advice.sign_in}")

    def _adopt(self, key: SessionKey, tokens: Tokens) -> Tokens:
        remember_secrets(tokens)
        self._key, self._s = key, st.adopted(self._s, tokens)
        self._state_stamp, self._session_present = None, True
        return tokens

    async def _refresh(self, target: Target, key: SessionKey, seen: Tokens) -> Tokens | None:
        """Renew silently (``renewal.renew``); adopt what it gives, forget when the sign-in is gone."""
        client = await known_client(self.store, target.server, self._profile, self._metadata_url)
        renewed = await renew(
            self._http,
            self.store,
            target,
            key,
            seen,
            lock=self.store.lock(lock_name("refresh", target), REFRESH_LOCK_TIMEOUT),
            clock=self._clock,
            rejected=self._s.rejected,
            name=self._profile.display_name,
            client=client,
        )
        if renewed is None:
            self._s = st.forgotten(self._s)
            return None
        return self._adopt(key, renewed)

    # -- interactive sign-in -------------------------------------------------------------------

    def _start_signin(self, scopes: tuple[str, ...], *, forced: bool = False) -> asyncio.Task[Tokens]:
        running = self._running
        if running.task is not None and running.active:
            if not forced and running.opened is False:
                # No browser opened for it: waiting could not help, so answer at once with its link.
                raise self._auth_required("A sign-in is already waiting for you to finish it.")
            return running.task
        paused = st.pause_reason(self._s, self._clock(), forced=forced)
        if paused is not None:
            raise self._auth_required(paused)
        return running.start(self._run_signin(scopes, forced), self._signin_done)

    def _signin_done(self, task: asyncio.Task[Tokens]) -> None:
        # A port that could not be bound opened nothing: no abandoned sign-in, so no pause.
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

    def _scopes_for(self, target: Target, requested: tuple[str, ...]) -> tuple[str, ...]:
        return st.scopes_for(self._s, self._profile.scopes, target, requested)

    async def _interactive(self, target: Target, scopes: tuple[str, ...]) -> Tokens:
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
            await flow.aclose()

    async def _drive(self, flow: Flow | DeviceFlow) -> Tokens:
        self._running.showing(flow)
        if isinstance(flow, Flow) and self._log_link:
            log.warning("Sign in to %s in your browser: %s", self._profile.display_name, flow.url)
        # Some browsers (webbrowser's GenericBrowser) only return once they exit: open concurrently.
        opening = asyncio.create_task(self._running.open(self._opener)) if self._open_browser else None
        try:
            tokens = await asyncio.wait_for(flow.complete(self._clock), self._lifetime)
        except TimeoutError:
            raise self._auth_required("The sign-in was not completed in time.") from None
        finally:
            self._running.flow = None
            if opening is not None and not opening.done():
                opening.cancel()
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
        self, task: asyncio.Task[Tokens], prompt: SignInPrompt | None, limit: float, *, needs_person: bool
    ) -> Tokens:
        """Wait for ``task``; a tool call (``needs_person``) stops as soon as no one can be reached."""
        waiting = Waiting(
            prompt, limit, self._clock, brand=self._profile.display_name, needs_person=needs_person
        )
        return await self._running.wait(task, waiting, self._auth_required)

    def _auth_required(self, why: str) -> AuthRequired:
        return self._running.auth_required(why, self._profile.advice.sign_in)

    @property
    def _signin(self) -> asyncio.Task[Tokens] | None:
        """The running (or last) sign-in task."""
        return self._running.task
