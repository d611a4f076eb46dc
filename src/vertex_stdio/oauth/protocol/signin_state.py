"""The token provider's sign-in state and its transitions: pure, no I/O, no clock of its own.

``OAuthTokenProvider`` (``oauth/provider.py``) is the I/O shell: it holds one ``SignInState``
and replaces it with what these functions return after each event (a 401, a finished or failed
sign-in, a sign-out in another window, a new token).  Everything it decides -- whether a token
may be used, whether a 401 deserves one more try, whether a new browser tab may open, which
scopes to ask for -- is decided here, so it is tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from vertex_stdio.core.credentials import Challenge
from vertex_stdio.oauth.protocol.core import Tokens, choose_scopes, union_scopes
from vertex_stdio.oauth.protocol.metadata import Target

RETRY_AFTER_FAILURE = 300.0
"""Seconds after a failed or abandoned sign-in during which none opens by itself."""

PAUSED = "The last sign-in did not complete, so no new browser tab was opened."


@dataclass(frozen=True)
class SignInState:
    """What the provider knows between calls (the tokens in memory, and why it may not sign in)."""

    tokens: Tokens | None = None
    failed_at: float | None = None
    """When the last sign-in failed or was abandoned (automatic sign-ins pause after it)."""
    paused_because: str = PAUSED
    stepup: tuple[str, ...] | None = None
    """Scopes a 403 ``insufficient_scope`` asked for: the next sign-in asks for them."""
    rejected: str | None = None
    """The last access token the server refused (never tried twice)."""
    challenge_scopes: tuple[str, ...] = ()
    header_url: str | None = None
    """The ``resource_metadata`` URL of the last challenge (discovery starts there)."""
    rediscover: bool = False
    """A 401 came: the next discovery skips the cache (the resource may have moved)."""
    fresh: str | None = None
    """A browser sign-in's access token the server has not accepted yet (when acceptance is reported)."""


def usable(state: SignInState, now: float) -> Tokens | None:
    """The tokens in memory when they may be used as they are (no step-up pending, not expiring)."""
    tokens = state.tokens
    return tokens if tokens is not None and state.stepup is None and tokens.usable(now) else None


def refuses_fresh(state: SignInState, token: str, challenge: Challenge) -> bool:
    """True when this refusal is of a sign-in's token the server never accepted (not a step-up)."""
    return token == state.fresh and state.rejected != token and challenge.error != "insufficient_scope"


def after_rejection(
    state: SignInState, token: str, challenge: Challenge, *, now: float, name: str
) -> tuple[SignInState, bool]:
    """A 401 (renew once) or 403 ``insufficient_scope`` (step up once) for ``token``.

    Returns the new state and whether the caller may try the request once more.  A browser
    sign-in whose token is refused before it was ever accepted counts as failed: another would
    open a tab to the same refusal, so new ones pause (``refuses_fresh``).
    """
    if challenge.resource_metadata:
        state = replace(state, header_url=challenge.resource_metadata)
    if state.rejected == token:
        return state, False
    if refuses_fresh(state, token, challenge):
        why = (
            f"{name} refused the sign-in that had just completed, so no new browser tab was opened. "
            f"Check that this account may use {name}."
        )
        state = replace(state, fresh=None, failed_at=now, paused_because=why)
    state = replace(state, rejected=token)
    if challenge.error == "insufficient_scope":
        granted = state.tokens.scopes if state.tokens else ()
        wanted = union_scopes(granted, challenge.scopes)
        if set(wanted) <= set(granted):
            return state, False
        return replace(state, stepup=wanted), True
    tokens = state.tokens
    if tokens is not None and tokens.access_token == token:
        tokens = replace(tokens, expires_at=0.0)  # spent: the next call renews it
    return (
        replace(
            state,
            tokens=tokens,
            challenge_scopes=challenge.scopes or state.challenge_scopes,
            rediscover=True,  # a 401 may mean the resource moved to another issuer
        ),
        True,
    )


def adopted(state: SignInState, tokens: Tokens) -> SignInState:
    """Tokens to use from now on (refreshed, or stored by another process)."""
    return replace(state, tokens=tokens)


def signed_in(state: SignInState, tokens: Tokens, *, watch_acceptance: bool = False) -> SignInState:
    """A sign-in completed: its tokens are used, and no pause, step-up or refusal is left.

    ``watch_acceptance``: its access token is ``fresh`` until the server is seen accepting it.
    """
    fresh = tokens.access_token if watch_acceptance else None
    return replace(state, tokens=tokens, stepup=None, rejected=None, failed_at=None, fresh=fresh)


def accepted(state: SignInState, token: str) -> SignInState:
    """The server answered a request made with ``token`` (not with 401/403)."""
    return replace(state, fresh=None) if token == state.fresh else state


def signin_ended(state: SignInState, now: float, *, failed: bool) -> SignInState:
    """A sign-in task ended; a failed or abandoned one pauses automatic sign-ins.

    Not failed: it succeeded, or it opened nothing (its callback port was taken), so nobody
    abandoned anything.
    """
    return replace(state, failed_at=now, paused_because=PAUSED) if failed else state


def signed_out(state: SignInState, now: float, name: str) -> SignInState:
    """Another window signed out: forget the tokens and pause automatic sign-ins (no tab storm)."""
    why = f"You signed out of {name}, so no browser tab was opened."
    return replace(state, tokens=None, failed_at=now, paused_because=why)


def forgotten(state: SignInState) -> SignInState:
    """The stored sign-in is no longer valid (refused refresh): nothing in memory either."""
    return replace(state, tokens=None)


def pause_reason(state: SignInState, now: float, *, forced: bool) -> str | None:
    """Why no new sign-in may start now (``login`` forces one), or None when one may."""
    if forced or state.failed_at is None or now - state.failed_at >= RETRY_AFTER_FAILURE:
        return None
    return state.paused_because


def scopes_for(
    state: SignInState, profile_scopes: Sequence[str] | None, target: Target, requested: Sequence[str]
) -> tuple[str, ...]:
    """The scopes a new sign-in asks for: a step-up's, else the profile's, fitted to what is offered."""
    chosen = choose_scopes(
        state.stepup if state.stepup is not None else profile_scopes,
        state.challenge_scopes,
        target.resource_scopes,
        target.server.scopes_supported,
        offline_access=target.server.offers_offline_access,
    )
    if set(chosen) <= {"offline_access"}:
        chosen = union_scopes(requested, chosen)
    return chosen
