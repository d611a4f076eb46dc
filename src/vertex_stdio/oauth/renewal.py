"""Silent renewal: the refresh token spent once across every process, and persisted before use.

The token provider calls ``renew`` under no lock of its own; ``renew`` takes the cross-process
refresh lock, reads the store again (another process may have refreshed meanwhile) and only
then spends the refresh token.  It answers the tokens to use, or None when the sign-in is no
longer valid (the store is cleared: a new sign-in is needed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth.grants import refresh
from vertex_stdio.oauth.io.http import OAuthFailed, OAuthHttp
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import Client, Target
from vertex_stdio.oauth.storage.state import Lock, LockTimeout
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

log = logging.getLogger(__name__)

REFRESH_LOCK_TIMEOUT = 30.0
_REFUSED = ("invalid_grant", "invalid_client", "unauthorized_client")


def lock_name(kind: str, target: Target) -> str:
    """The name of the cross-process lock of ``kind`` (refresh, signin) for one issuer and resource."""
    digest = hashlib.sha256(f"{target.server.issuer} {target.resource}".encode()).hexdigest()[:16]
    return f"{kind}-{digest}"


async def renew(
    http: OAuthHttp,
    store: TokenStore,
    target: Target,
    key: SessionKey,
    seen: Tokens,
    *,
    lock: Lock,
    clock: Callable[[], float],
    rejected: str | None,
    name: str,
    client: Client | None = None,
) -> Tokens | None:
    """Refresh under ``lock``, re-reading the store first; persist before use.

    ``seen`` is the token set the caller holds; ``rejected`` an access token the server refused
    (never adopted again); ``client`` the confidential client's identity (its secret sent as its
    ``auth_method`` says, as the code exchange sent it: RFC 6749 §6), None for a public client.
    ``AuthRequired`` when another process holds the lock too long.
    """
    try:
        async with lock:
            stored = await store.load(key)
            if (
                stored is not None
                and stored.refresh_token != seen.refresh_token
                and stored.usable(clock())
                and stored.access_token != rejected
            ):
                return stored  # another process refreshed meanwhile
            current = stored if stored is not None and stored.refresh_token else seen
            return await _spend(http, store, target, key, current, clock, name, client)
    except LockTimeout:
        raise AuthRequired(
            "Another vertex-stdio process is refreshing the sign-in and has not finished. Try again shortly."
        ) from None


async def _spend(
    http: OAuthHttp,
    store: TokenStore,
    target: Target,
    key: SessionKey,
    current: Tokens,
    clock: Callable[[], float],
    name: str,
    client: Client | None,
) -> Tokens | None:
    secret = client.secret if client is not None and client.client_id == key.client_id else None
    try:
        fresh = await refresh(
            http,
            target.server,
            client_id=key.client_id,
            tokens=current,
            resource=target.resource,
            now=clock(),
            client_secret=secret,
            auth_method=client.auth_method if client is not None and secret else "none",
        )
    except OAuthFailed as exc:
        if exc.error not in _REFUSED:
            raise
        log.warning("the saved sign-in is no longer valid (%s); a new sign-in is needed", exc.error)
        again = await store.load(key)
        if again is not None and again.refresh_token != current.refresh_token and again.usable(clock()):
            return again
        await store.clear(key)
        return None
    log.info("refreshed the %s access token", name)
    await persist(store, key, fresh)
    return fresh


async def persist(store: TokenStore, key: SessionKey, tokens: Tokens) -> None:
    """Save ``tokens``; when the store cannot, they are kept in memory for this process only."""
    try:
        await store.save(key, tokens)
    except AuthRequired as exc:
        log.warning(
            "could not save the sign-in (%s); it is kept in memory for this process only", exc.message
        )
