"""What the link to a remote MCP server needs of the HTTP edge (core/calls.py), in connect's words.

The edge notes on the call's ``CallRecord`` what HTTP said (the SDK sends each request's POST in
the caller's context); ``RemoteLink`` reads it back and these functions word the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vertex_stdio.core.calls import CallRecord
from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.errors import AuthError, AuthInvalid, AuthRequired, InsufficientScope


class Tokens(Protocol):
    """What the link needs from the sign-in (``OAuthTokenProvider`` provides it)."""

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str: ...

    async def silent_token(self) -> str | None: ...

    def challenged(self, challenge: Challenge) -> None: ...

    async def rejected(self, token: str, challenge: Challenge) -> bool: ...

    def accepted(self, token: str) -> None: ...


def auth_failure(host: str, call: CallRecord) -> AuthError:
    """A 401/403 as the contract's error.

    A request that must not be sent twice carries ``outcome``: ``unknown`` when it went out and
    was refused (the remote may have acted first), ``refused`` when it never went out.
    """
    kind: type[AuthError] = AuthInvalid
    if call.status == 403 and call.challenge is not None and call.challenge.error == "insufficient_scope":
        kind, words = InsufficientScope, f"{host} needs more permissions than were granted (HTTP 403)."
    elif call.status == 403:
        words = f"{host} refused the request (HTTP 403)."
    else:
        words = f"{host} did not accept the sign-in (HTTP 401)."
    outcome = None
    if call.refused is not None:
        outcome = "unknown"
        words += (
            f" The call was not sent again: it is not read-only, and {host} may have acted on it "
            f"before refusing. Check in {host} whether it took effect before calling it again."
        )
    elif not call.replay:
        outcome = "refused"
    extra = {}
    if call.auth_error is not None:  # renewing failed too: its words say what to do next
        words += f" {call.auth_error.message}"
        extra = dict(call.auth_error.extra)
    return kind(words, outcome=outcome, **extra)


def refused_after_renewal(refused: AuthInvalid, renewal: AuthRequired, call: CallRecord) -> AuthInvalid:
    """The remote refused the sign-in and a new one cannot be had now: AUTH_INVALID, with both reasons."""
    error = AuthInvalid(f"{refused.message} {renewal.message}", **{**refused.extra, **renewal.extra})
    if not call.replay:
        error.extra.setdefault("outcome", "refused")
    return error
