"""Turning HTTP outcomes into the error tree. Pure: no I/O, no clock but the one passed in."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from vertex_stdio.core.credentials import parse_challenge
from vertex_stdio.core.errors import (
    AuthInvalid,
    InsufficientScope,
    InvalidInput,
    NotFound,
    RateLimited,
    SendFailed,
    UpstreamError,
    UpstreamUnavailable,
    VertexError,
)
from vertex_stdio.core.launcher import command
from vertex_stdio.core.redact import REDACTED, clip, redact

MAX_MESSAGE_CHARS = 300
SCRUBBED = REDACTED
RETRYABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Operation:
    """One kind of VertexSMS call, as the money-safety and error rules need to know it.

    ``costs_or_changes`` marks calls that send a message, cost money or change the account:
    they are never retried automatically, and an unknown outcome is reported as such.
    """

    tool: str
    scope: str
    costs_or_changes: bool
    is_send: bool = False

    @property
    def what(self) -> str:
        """How a message names the call: ``the send``, ``the HLR lookup``..."""
        return _WHAT.get(self.tool, f"the {self.tool} call")


_WHAT = {
    "send_sms": "the send",
    "lookup_hlr": "the HLR lookup",
    "register_sender_id": "the sender ID registration",
    "register_msisdn_sender": "the phone-number sender registration",
    "confirm_msisdn_sender": "the sender confirmation",
}


def upstream_message(body: bytes, content_type: str, sent: Iterable[str | None] = ()) -> str | None:
    """VertexSMS's own words from an error body: ``message``, ``error``, or short plain text.

    Redacted (the ``sent`` tokens, registered secrets, any piece of them, token shapes) before
    it is cut to ``MAX_MESSAGE_CHARS``: a token cut first would no longer match itself.
    """
    if not body:
        return None
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        return None
    text = body[:4096].decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("message", "error", "detail"):
            value = parsed.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return clip(value, MAX_MESSAGE_CHARS, sent)
        return None
    if parsed is not None:
        return None
    return clip(text, MAX_MESSAGE_CHARS, sent) if text else None


def upstream_code(body: bytes) -> int | None:
    """VertexSMS's numeric error code from a JSON error body (``code``/``errorCode``), if any."""
    try:
        parsed = json.loads(body[:4096].decode("utf-8", errors="replace"))
    except ValueError:
        return None
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    for where in (parsed, inner):
        if isinstance(where, dict):
            for key in ("code", "errorCode", "error_code"):
                value = where.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
    return None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def without_sent(error: VertexError, sent: Iterable[str | None]) -> VertexError:
    """``error`` with every token we sent (and any piece of one) cut out of its message and
    extras (upstreams quote them), and registered secrets and token shapes too (``redact``).

    Both upstreams (REST and hosted MCP) pass their errors through here before raising them.
    """
    sent = list(sent)

    def clean(text: str) -> str:
        return redact(text, sent)

    error.message = clean(error.message)
    error.args = (error.message,)
    error.extra = {k: clean(v) if isinstance(v, str) else v for k, v in error.extra.items()}
    return error


def error_for_status(
    op: Operation,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    sent: Iterable[str | None] = (),
) -> VertexError:
    """The contract's error for a non-2xx answer from VertexSMS (``sent``: the tokens sent,
    cut from the quoted body before it is clipped).

    A billable call's 4xx is ``refused`` (VertexSMS said no, nothing was done); a 5xx leaves
    its outcome unknown (a proxy may answer 502 after VertexSMS took the request).
    """
    error = _error_for_status(
        op, status, headers, upstream_message(body, headers.get("content-type", ""), sent)
    )
    if error.vertex_error_code is None:
        error.vertex_error_code = upstream_code(body)
    if op.costs_or_changes and status < 500:
        error.extra.setdefault("outcome", "refused")
    return error


def _error_for_status(
    op: Operation,
    status: int,
    headers: Mapping[str, str],
    said: str | None,
) -> VertexError:
    quoted = f" VertexSMS said: {said}" if said else ""
    if status == 400:
        if op.is_send:
            return SendFailed(
                f"VertexSMS refused the message; nothing was sent.{quoted} "
                "Fix the sender, recipient or text and send again."
            )
        return InvalidInput(f"VertexSMS rejected the request as invalid.{quoted}")
    if status == 401:
        return AuthInvalid(
            f"VertexSMS rejected the credentials (HTTP 401: expired, revoked or wrong).{quoted} "
            f"Sign in again with `{command('login')}` (a token kept by `{command('login --token')}` "
            f"outranks a sign-in: run `{command('logout')}` first), keep a new API token with "
            f"`{command('login --token')}`, or set a valid VERTEXSMS_API_TOKEN."
        )
    if status == 403:
        challenge = parse_challenge(headers.get("www-authenticate"))
        if challenge.error == "insufficient_scope":
            needed = " ".join(challenge.scopes) or op.scope
            return InsufficientScope(
                f"Your VertexSMS sign-in does not allow {op.what} (HTTP 403: it needs the scope {needed}).{quoted} "
                f"Run `{command('login ' + ' '.join(f'--scope {shlex.quote(s)}' for s in needed.split()))}` to grant it.",
                required_scope=needed,
            )
        return AuthInvalid(
            f"VertexSMS refused {op.what} for this token (HTTP 403: route permission or IP whitelist).{quoted} "
            "Check the token's permissions at https://tool.vertexsms.com/settings/api, "
            f"or sign in again with `{command('login')}`."
        )
    if status == 404:
        return NotFound(f"VertexSMS has no such item.{quoted}")
    if status == 429:
        wait = retry_after_seconds(headers.get("retry-after"))
        when = f" Wait {wait:.0f} s and try again." if wait is not None else " Wait and try again."
        return RateLimited(
            f"VertexSMS is rate limiting requests; {op.what} was not done.{quoted}{when}",
            retry_after_seconds=wait,
        )
    if status >= 500:
        return unavailable(op, f"VertexSMS answered HTTP {status}.{quoted}")
    return UpstreamError(f"VertexSMS answered HTTP {status} to {op.what}.{quoted}")


def unavailable(op: Operation, why: str, *, reached: bool = True) -> UpstreamUnavailable:
    """An outage.  For calls that cost or change something, ``reached`` decides the outcome:

    ``not_sent`` (retryable) only when no byte of the request can have reached VertexSMS
    (the connection was never made); otherwise ``unknown``, which is never retryable.
    """
    if not op.costs_or_changes:
        return UpstreamUnavailable(f"{why} VertexSMS may be down or unreachable; try again shortly.")
    if not reached:
        return UpstreamUnavailable(
            f"{why} Nothing reached VertexSMS, so {op.what} was NOT made; "
            "it is safe to try again once VertexSMS is reachable.",
            outcome="not_sent",
            retryable=True,
        )
    return UpstreamUnavailable(
        f"{why} The outcome of {op.what} is UNKNOWN: it may or may not have happened, and it was "
        "not retried. Do not repeat it blindly: "
        + (
            f"look it up with get_sms_status (the message id is in `{command('history --pending')}` "
            "once known) or in the VertexSMS dashboard, or ask the user."
            if op.is_send
            else "check the VertexSMS dashboard first, or ask the user."
        ),
        outcome="unknown",
        retryable=False,
    )


def unreadable_success(op: Operation, why: str) -> UpstreamError:
    """A 2xx answer we could not read; for sends, the message probably went out."""
    if op.costs_or_changes:
        return UpstreamError(
            f"VertexSMS accepted {op.what} (HTTP 2xx) but its answer could not be read ({why}). "
            "It most likely happened: do not repeat it; check the VertexSMS dashboard.",
            outcome="probably_done",
            retryable=False,
        )
    return UpstreamError(f"VertexSMS's answer could not be read ({why}); try again later.")
