"""What the link to a remote MCP server needs of the HTTP edge (core/calls.py), in connect's words.

The edge notes on the call's ``CallRecord`` what HTTP said (the SDK sends each request's POST in
the caller's context); ``RemoteLink`` reads it back and these functions word the error.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Protocol

import httpx2
from mcp import MCPError
from mcp.types import REQUEST_TIMEOUT

from vertex_stdio.core.calls import CallRecord
from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.errors import (
    AuthError,
    AuthInvalid,
    AuthRequired,
    InsufficientScope,
    UpstreamError,
    UpstreamUnavailable,
    VertexError,
)


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


class SessionEnded(UpstreamUnavailable):
    """The remote no longer knows the session a request went on, so it did not run it."""


def session_ended(host: str, call: CallRecord) -> SessionEnded:
    """A 404 to a request that carried the session's id: the remote restarted or expired the
    session and did not run the request (the MCP spec, Streamable HTTP "Session Management": it
    MUST answer 404 to a session it ended, and the client then starts a new one).  So a call not
    to be sent twice was ``refused`` and may be called again: it never ran."""
    return SessionEnded(
        f"{host} ended the session this call was sent on (HTTP 404 to its session id: the remote "
        "restarted or expired it), so it did not run the call. A new session opens with the next "
        "request: call it again.",
        outcome=None if call.replay else "refused",
        retryable=True,
    )


def refused_after_renewal(refused: AuthInvalid, renewal: AuthRequired, call: CallRecord) -> AuthInvalid:
    """The remote refused the sign-in and a new one cannot be had now: AUTH_INVALID, with both reasons."""
    error = AuthInvalid(f"{refused.message} {renewal.message}", **{**refused.extra, **renewal.extra})
    if not call.replay:
        error.extra.setdefault("outcome", "refused")
    return error


def failure_of(host: str, max_answer: int, call: CallRecord | None, exc: BaseException) -> VertexError:
    """The contract's error for a request to ``host`` that failed with ``exc`` (what HTTP said is
    on ``call``): too large, refused sign-in, no connection -- or, for a call not to be sent twice
    that may have gone out, ``outcome: unknown`` and never retryable."""
    if call is not None and call.oversized:
        mib = max_answer / 1_048_576
        return UpstreamError(
            f"{host}'s answer is larger than {mib:g} MiB, so it was not read. Ask for less "
            f"(a narrower query, fewer items), or start connect with a larger --max-answer-mib."
        )
    if call is not None and call.status in (401, 403):
        return auth_failure(host, call)
    if call is not None and call.auth_error is not None:
        return call.auth_error
    failure = (call.failure if call is not None else None) or exc
    # Whichever timer fired first (the call's, the HTTP read's: they race), a timeout is one.
    timed_out = _timed_out(exc) or _timed_out(failure)
    if call is not None and call.sending and not call.replay and not never_sent(failure):
        why = "no answer in time" if timed_out else type(failure).__name__
        return UpstreamUnavailable(
            f"The connection to {host} failed after the call went out ({why}). "
            f"It was not sent again: it is not read-only, and {host} may have acted on it. "
            f"Check in {host} whether it took effect before calling it again.",
            outcome="unknown",
            retryable=False,
        )
    if timed_out:
        return UpstreamUnavailable(f"{host} did not answer in time. Try again.")
    untrusted = _certificate_refused(failure)
    if untrusted is not None:
        return UpstreamUnavailable(
            f"The certificate of {host} is not trusted ({untrusted}). If your network has its own "
            "certificate authority, set SSL_CERT_FILE to its PEM file (trusted beside the system's)."
        )
    return UpstreamUnavailable(
        f"Could not reach {host} ({type(failure).__name__}). Check your network and try again."
    )


def _timed_out(exc: BaseException) -> bool:
    return (
        isinstance(exc, httpx2.TimeoutException)
        and not isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout)
    ) or (isinstance(exc, MCPError) and exc.error.code == REQUEST_TIMEOUT)


def first_of(group: BaseException) -> BaseException:
    """The first exception inside ``group`` (itself when it is not a group)."""
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


def never_sent(exc: BaseException | None) -> bool:
    """True when ``exc`` proves the request never went out: no connection was made (TLS included)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _certificate_refused(exc: BaseException | None) -> str | None:
    """The verifier's reason when ``exc`` (or what caused it) is a refused TLS certificate."""
    seen = 0
    while exc is not None and seen < 8:  # a short chain: httpx2 wraps the ssl error once or twice
        if isinstance(exc, ssl.SSLCertVerificationError):
            return str(exc.verify_message or "certificate verify failed")
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
