"""The emulator's own token and its scopes: constants, importable without the emulator."""

from __future__ import annotations

SANDBOX_TOKEN = "vertex-sandbox-token"  # noqa: S105 - the emulator's fixed, public sample token
ALL_SCOPES: frozenset[str] = frozenset(
    {"sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read"}
)
SCOPE_ORDER = ("sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read")
