"""What a token provider holds and renews without a person: memory, the store, a refresh.

``SilentTokens`` is the base of ``provider.OAuthTokenProvider`` (which adds the interactive
sign-in): the in-memory ``SignInState`` and its transitions on the server's answers
(``challenged``, ``rejected``, ``accepted``), discovery, adopting what another process stored,
silent refresh under the cross-process lock (``renewal``), and noticing a logout made by
another process (then the in-memory token is not used again).  It never opens a browser.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

import httpx2

from vertex_stdio.core.credentials import Challenge
from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.oauth.discovery import find_target, known_client, known_client_id
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol import signin_state as st
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import Target
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy
from vertex_stdio.oauth.renewal import REFRESH_LOCK_TIMEOUT, lock_name, renew
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore, remember_secrets

log = logging.getLogger(__name__)


class SilentTokens:
    """The tokens one server's sign-in gives this process, kept and renewed without a person."""

    def __init__(
        self,
        profile: SignInProfile,
        store: TokenStore | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        *,
        client_metadata_url: str | None = None,
    ) -> None:
        self._profile = profile
        self._store_given = store
        self._http = OAuthHttp(
            timeout=profile.http_timeout, policy=UrlPolicy(profile.resource_url), transport=transport
        )
        self._clock = clock or time.time
        self._metadata_url = client_metadata_url
        self._s = st.SignInState()
        self._key: SessionKey | None = None
        self._state_stamp: tuple[int, int, int] | None = None
        self._session_present = False

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

    async def kept(self) -> bool:
        """True when the current sign-in is in the store (so later runs and other processes have it)."""
        if self._key is None or self._s.tokens is None:
            return False
        try:
            stored = await self.store.load(self._key)
        except VertexError:
            return False
        return stored is not None and stored.access_token == self._s.tokens.access_token

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

    def _scopes_for(self, target: Target, requested: tuple[str, ...]) -> tuple[str, ...]:
        return st.scopes_for(self._s, self._profile.scopes, target, requested)
