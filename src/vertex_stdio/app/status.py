"""``vertex-stdio status``: where the sign-ins are kept, whose they are, until when, and what to
fix; exit codes 0 (signed in), 1 (fixable).  ``_say`` and ``_sessions`` serve ``login`` and
``logout`` too (``signin.py``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, VertexError
from vertex_stdio.core.redact import redact
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.account import account_of, expiry_text, local_time
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.anywhere import every_store, find
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.store import SessionKey, SessionRecord, TokenStore

log = logging.getLogger(__name__)


def _say(out: TextIO, text: str) -> None:
    """One line to the person; an authorization server's words in it may quote a token."""
    out.write(redact(text) + "\n")
    out.flush()


def _sessions(store: TokenStore) -> list[tuple[str, SessionRecord]]:
    return list(store.sessions().items())


async def status(
    profile: SignInProfile,
    *,
    as_json: bool,
    out: TextIO,
    store: TokenStore | None = None,
    fields: Mapping[str, Any] | None = None,
    lines: Sequence[str] = (),
    notes: Sequence[str] = (),
    authenticated_otherwise: bool = False,
) -> int:
    """Who is signed in, scopes, expiry, the secret store, the URLs; never a secret.

    The caller adds its own ``fields`` (JSON), ``lines`` (text, after the URLs) and ``notes``
    (text, at the end).  Exits 0 when signed in (or ``authenticated_otherwise``: the caller has
    another credential, such as a pasted token), 1 when signed out.
    """
    store = store or TokenStore.default(profile)
    now = time.time()
    report: dict[str, Any] = {
        "signed_in": False,
        "mcp_url": profile.resource_url,
        **(fields or {}),
        "secret_store": store.secrets.label,
        "secret_store_warning": store.warning,
        "sessions": [],
    }
    for _, record in _sessions(store):
        key = record.key
        session = _session(record, await _load_quietly(store, key), now)
        if not session["usable_here"]:
            session["fix"] = await _fix_for(profile, store, key)
        report["sessions"].append(session)
    report["signed_in"] = any(s["usable_here"] for s in report["sessions"])
    if not (report["signed_in"] or authenticated_otherwise or report["sessions"]):
        notes = [*notes, f"Sign in with {_login_here(store, profile)}."]
    _say(out, json.dumps(report, indent=2) if as_json else _text(report, now, lines, notes))
    return EXIT_OK if report["signed_in"] or authenticated_otherwise else EXIT_FIXABLE


def _session(record: SessionRecord, tokens: Tokens | None, now: float) -> dict[str, Any]:
    key, expires = record.key, record.access_expires_at
    account = account_of(tokens.access_token) if tokens is not None else None
    return {
        "issuer": key.issuer,
        "resource": key.resource,
        "client_id": key.client_id,
        "account": account[0] if account else None,
        "account_claim": account[1] if account else None,
        "scopes": list(record.scopes),
        "access_token_expires_at": expires,
        "access_token_expires_at_iso": local_time(expires) if expires is not None else None,
        "access_token_expires_in": round(expires - now) if expires is not None else None,
        "refresh_token": "present" if tokens is not None and tokens.refresh_token else "absent",
        "stored_in": record.store,
        "usable_here": tokens is not None,
    }


async def _fix_for(profile: SignInProfile, store: TokenStore, key: SessionKey) -> str:
    """What makes a sign-in this process cannot read usable (never a ``login`` that would refuse)."""
    found = await find(every_store(profile, store), key)
    advice = profile.advice
    if found.store is not None and isinstance(found.store.secrets, FileSecrets):
        return (
            f"It is kept in a private file ({found.store.secrets.label}), which is read only where the "
            f"file store is allowed: {advice.allow_file_store} here, and "
            f"{advice.allow_file_store_in_client}; or run `{advice.logout_command}` to revoke it."
        )
    if found.store is not None:
        return f"It is kept in {found.store.secrets.label}, which this process does not use."
    if found.problems:
        return " ".join(found.problems)
    return f"The saved sign-in is gone or cannot be decrypted here; sign in again with {_login_here(store, profile)}."


def _login_here(store: TokenStore, profile: SignInProfile) -> str:
    """The sign-in command that works with this process's secret store, in backquotes."""
    login = profile.advice.login_command
    if store.secrets.persistent:
        return f"`{login}`"
    return (
        f"`{login} --allow-file-store` (no usable keyring here; {profile.advice.allow_file_store_in_client})"
    )


async def _load_quietly(store: TokenStore, key: SessionKey) -> Tokens | None:
    try:
        return await store.load(key)
    except VertexError:
        return None


def _text(report: dict[str, Any], now: float, extra: Sequence[str], notes: Sequence[str]) -> str:
    lines = [f"Signed in: {'yes' if report['signed_in'] else 'no'}"]
    for s in report["sessions"]:
        account = (
            f"{s['account']} (the token's {s['account_claim']})" if s["account"] else "not named by the token"
        )
        refreshable = s["refresh_token"] == "present"  # noqa: S105 - a status word, not a secret
        lines += [
            f"  Account: {account}",
            f"  Authorization server: {s['issuer']}",
            f"  Resource: {s['resource']}",
            f"  Client id: {s['client_id']}",
            f"  Scopes: {' '.join(s['scopes']) or '-'}",
            f"  Access token: {expiry_text(s['access_token_expires_at'], now, refreshable=refreshable)}",
            f"  Refresh token: {s['refresh_token']} (stored in {s['stored_in']})",
        ]
        if not s["usable_here"]:
            lines.append(f"  Not readable by this process. Fix: {s['fix']}")
    lines += [
        f"Secret store: {report['secret_store']}",
        f"MCP URL: {report['mcp_url']}",
        *extra,
    ]
    if report["secret_store_warning"]:
        lines.append(f"Warning: {report['secret_store_warning']}")
    lines += notes
    return "\n".join(lines)
