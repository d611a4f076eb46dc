"""What ``status`` says about a sign-in, computed without I/O: whose it is and when it expires.

The account name comes from the access token itself when it is a JWT (its ``email``,
``preferred_username`` or ``sub`` claim): read for display only, never trusted for anything,
and no network call is made.  The token is never returned or printed, only the claim.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

ACCOUNT_CLAIMS = ("email", "preferred_username", "sub")


def account_of(access_token: str) -> tuple[str, str] | None:
    """(name, claim) from a JWT access token's payload, or None (opaque token, no such claim)."""
    parts = access_token.split(".")
    if len(parts) != 3 or len(access_token) > 16384:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(claims, dict):
        return None
    for claim in ACCOUNT_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value and value.isprintable() and len(value) <= 256:
            return value, claim
    return None


def local_time(epoch: float) -> str:
    """``epoch`` as an ISO 8601 local time with its UTC offset, to the second."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def span(seconds: float) -> str:
    """A short human duration: ``45 s``, ``9 min``, ``2 h 5 min``, ``3 days``."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 2 * 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours:.0f} h {rest // 60:.0f} min"
    return f"{seconds // 86400:.0f} days"


def expiry_text(expires_at: float | None, now: float, *, refreshable: bool) -> str:
    """``expires 2026-12-01 21:14:03+01:00 (in 9 min)``, or how it stands after expiry."""
    if expires_at is None:
        return "expiry not stated by the server"
    when = datetime.fromtimestamp(expires_at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    if expires_at > now:
        return f"expires {when} (in {span(expires_at - now)})"
    after = "renewed with the refresh token on next use" if refreshable else "a new sign-in is needed"
    return f"expired {when} ({span(now - expires_at)} ago; {after})"
