"""The error tree and the contract's JSON error envelope.

Every failure a person or a model can see is a ``VertexError``::

    VertexError                      code                   retryable
    ├── AuthError                    (a product adds its sign-in links)
    │   ├── AuthRequired             AUTH_REQUIRED          no
    │   ├── AuthInvalid              AUTH_INVALID           no
    │   └── InsufficientScope        INSUFFICIENT_SCOPE     no
    ├── InvalidInput                 INVALID_INPUT          no
    ├── NotFound                     NOT_FOUND              no
    ├── RateLimited                  RATE_LIMITED           yes
    ├── SendFailed                   VERTEX_SEND_FAILED     no
    ├── UpstreamUnavailable          UPSTREAM_UNAVAILABLE   yes (no when the outcome is unknown)
    ├── UpstreamError                UPSTREAM_ERROR         no
    │   └── JournalUnavailable       UPSTREAM_ERROR         no  (the send journal cannot be used)
    ├── DuplicateSend                DUPLICATE_SEND         no
    ├── SpendLimit                   SPEND_LIMIT            no
    ├── PolicyRefused                POLICY_REFUSED         no
    ├── Declined                     DECLINED               no
    └── ConfirmationRequired         CONFIRMATION_REQUIRED  no

A billable call's error also carries ``outcome``: ``not_sent`` (nothing reached the upstream),
``unknown`` (it may have been processed: never retryable) or ``refused`` (the upstream said no).

Foreign exceptions (httpx2, keyring, the SDK) are translated into this tree at the
boundary that meets them, with ``raise ... from exc``.  The envelope never carries a
token, an authorization code or a PKCE verifier: messages are built from our own
words and from the upstream's ``message`` field, never from request data.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from vertex_stdio.core.redact import clip

# The contract's exit codes for every command but ``serve``: success, a failure the user can
# fix (the message says how), a usage error.
EXIT_OK, EXIT_FIXABLE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Stopped with Ctrl-C (128 + SIGINT, as shells report it)."""


class ErrorCode(StrEnum):
    """The stable codes of the contract."""

    AUTH_REQUIRED = "AUTH_REQUIRED"
    AUTH_INVALID = "AUTH_INVALID"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    VERTEX_SEND_FAILED = "VERTEX_SEND_FAILED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    DUPLICATE_SEND = "DUPLICATE_SEND"
    SPEND_LIMIT = "SPEND_LIMIT"
    DECLINED = "DECLINED"
    POLICY_REFUSED = "POLICY_REFUSED"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"


class VertexError(Exception):
    """A failure with a contract code, a message that says what to do next, and extras."""

    code: ClassVar[ErrorCode] = ErrorCode.UPSTREAM_ERROR
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        vertex_error_code: int | None = None,
        retryable: bool | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vertex_error_code = vertex_error_code
        if retryable is not None:
            self.retryable = retryable
        self.extra: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}

    def envelope(self) -> dict[str, Any]:
        """The contract's ``{"error": {...}}`` object."""
        body: dict[str, Any] = {
            "code": str(self.code),
            "message": self.message,
            "retryable": self.retryable,
            "vertex_error_code": self.vertex_error_code,
        }
        body.update(self.extra)
        return {"error": body}

    def to_json(self) -> str:
        """The envelope as one line of JSON (the text of a tool error)."""
        return json.dumps(self.envelope(), ensure_ascii=False)


class AuthError(VertexError):
    """An authentication failure.

    The core names no product: the product that answers adds its own sign-in links and advice
    to ``extra`` before the envelope is written.
    """


class AuthRequired(AuthError):
    """No credentials are available yet: the person must sign in or paste a token."""

    code = ErrorCode.AUTH_REQUIRED


class AuthInvalid(AuthError):
    """The upstream rejected the credentials (expired, revoked, IP- or route-restricted)."""

    code = ErrorCode.AUTH_INVALID


class InsufficientScope(AuthError):
    """The credentials are valid but do not carry the permission this call needs."""

    code = ErrorCode.INSUFFICIENT_SCOPE


class InvalidInput(VertexError):
    """The arguments are wrong; the message names the field and the rule."""

    code = ErrorCode.INVALID_INPUT


class NotFound(VertexError):
    """The thing asked for does not exist upstream."""

    code = ErrorCode.NOT_FOUND


class RateLimited(VertexError):
    """The upstream asked us to slow down; ``retry_after_seconds`` says how long."""

    code = ErrorCode.RATE_LIMITED
    retryable = True


class SendFailed(VertexError):
    """The upstream refused the message (bad sender, blocked number, no balance, ...)."""

    code = ErrorCode.VERTEX_SEND_FAILED


class UpstreamUnavailable(VertexError):
    """The upstream could not be reached or failed (5xx, timeout, dropped connection)."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE
    retryable = True


class UpstreamError(VertexError):
    """The upstream answered with an error that fits no other code (409, other 4xx)."""

    code = ErrorCode.UPSTREAM_ERROR


class JournalUnavailable(UpstreamError):
    """The local send journal cannot be opened or written, so a billable call is not made."""


class DuplicateSend(VertexError):
    """The same message to the same recipient from the same sender went out moments ago."""

    code = ErrorCode.DUPLICATE_SEND


class SpendLimit(VertexError):
    """A spend limit would be crossed; the envelope names the limit, the count and the setting."""

    code = ErrorCode.SPEND_LIMIT


class PolicyRefused(VertexError):
    """The person's spending policy forbids this call; the envelope names the ``rule``, its
    ``value`` and ``change`` (the policy line or setting that changes it)."""

    code = ErrorCode.POLICY_REFUSED


class Declined(VertexError):
    """The person said no when asked to confirm; nothing was sent."""

    code = ErrorCode.DECLINED


class ConfirmationRequired(VertexError):
    """The call needs a person's yes that was not given yet; nothing was done.  The envelope
    carries ``approve_url`` (a one-time link where the person decides) and ``expires_at``."""

    code = ErrorCode.CONFIRMATION_REQUIRED


class ConfigError(Exception):
    """A setting is malformed; raised before anything starts (exit code 1 or 2)."""


_BY_CODE: dict[ErrorCode, type[VertexError]] = {
    cls.code: cls
    for cls in (
        AuthRequired,
        AuthInvalid,
        InsufficientScope,
        InvalidInput,
        NotFound,
        RateLimited,
        SendFailed,
        UpstreamUnavailable,
        UpstreamError,
        DuplicateSend,
        SpendLimit,
        Declined,
        ConfirmationRequired,
    )
}


def error_from_envelope(body: object) -> VertexError | None:
    """Rebuild an error from a ``{"error": {...}}`` envelope (the hosted server uses ours)."""
    inner = body.get("error") if isinstance(body, dict) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("message"), str):
        return None
    try:
        cls = _BY_CODE[ErrorCode(str(inner.get("code")))]
    except ValueError:
        cls = UpstreamError
    code = inner.get("vertex_error_code")
    return cls(clip(inner["message"], 500), vertex_error_code=code if isinstance(code, int) else None)
