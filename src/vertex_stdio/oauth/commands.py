"""``vertex-stdio login`` / ``logout`` / ``status``: exit codes 0 (done), 1 (fixable failure), 2 (usage)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TextIO

from vertex_stdio.errors import EXIT_FIXABLE, EXIT_OK, VertexError
from vertex_stdio.oauth.core import Tokens
from vertex_stdio.oauth.grants import revoke
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.provider import OAuthTokenProvider
from vertex_stdio.oauth.store import SessionKey, TokenStore

log = logging.getLogger(__name__)


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


async def login(
    profile: SignInProfile,
    *,
    scopes: Sequence[str] = (),
    no_browser: bool = False,
    out: TextIO,
    provider: OAuthTokenProvider | None = None,
) -> int:
    """Sign in now in the browser (or print the URL with ``no_browser``); 0 when signed in."""
    if scopes:
        profile = replace(profile, scopes=tuple(dict.fromkeys(scopes)))
    provider = provider or OAuthTokenProvider(profile, open_browser=not no_browser)
    name = profile.display_name
    try:
        job = asyncio.create_task(provider.signin(profile.scopes or ()))
        url = await _first(provider, job)
        if url:
            _say(out, f"Open this link to sign in to {name}:\n\n  {url}\n")
            print(f"Sign-in link: {url}", file=sys.stderr)  # noqa: T201 - the contract: URL always on stderr
        tokens = await job
    except VertexError as exc:
        _say(out, f"Not signed in: {exc.message}")
        return EXIT_FIXABLE
    finally:
        await provider.aclose()
    _say(out, f"Signed in to {name}. Granted scopes: {' '.join(tokens.scopes) or '(server default)'}.")
    return EXIT_OK


async def _first(provider: OAuthTokenProvider, job: asyncio.Task[Tokens]) -> str | None:
    waiter = asyncio.create_task(provider.wait_for_url(60.0))
    await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        return None
    return waiter.result()


async def logout(
    profile: SignInProfile,
    *,
    out: TextIO,
    store: TokenStore | None = None,
    provider: OAuthTokenProvider | None = None,
) -> int:
    """Revoke at the server when it offers revocation, then forget locally; safe to run twice."""
    provider = provider or OAuthTokenProvider(profile, store=store)
    store = provider.store
    try:
        sessions = _sessions(store)
        if not sessions:
            _say(out, "You were not signed in; nothing to do.")
            return EXIT_OK
        try:
            server = (await provider.target()).server
        except VertexError as exc:
            _say(out, f"Could not reach the sign-in server to revoke the tokens ({exc.message}).")
            server = None
        for account, info in sessions:
            key = SessionKey(info["issuer"], info["resource"], info["client_id"])
            tokens = await store.load(key)
            failed: list[str] = []
            if tokens is not None and server is not None and key.issuer == server.issuer:
                failed = await revoke(provider.http, server, client_id=key.client_id, tokens=tokens)
            await store.clear(key)
            note = f" (could not revoke the {', '.join(failed)} at the server)" if failed else ""
            _say(out, f"Signed out of {key.issuer}{note}.")
            log.info("signed out (%s)", account.split(" ")[0])
    except VertexError as exc:
        _say(out, f"Sign-out incomplete: {exc.message}")
        return EXIT_FIXABLE
    finally:
        await provider.aclose()
    return EXIT_OK


def _sessions(store: TokenStore) -> list[tuple[str, dict[str, Any]]]:
    sessions = store.read_state().get("sessions", {})
    return [
        (account, info)
        for account, info in sessions.items()
        if all(isinstance(info.get(k), str) for k in ("issuer", "resource", "client_id"))
    ]


async def status(
    profile: SignInProfile,
    *,
    as_json: bool,
    out: TextIO,
    store: TokenStore | None = None,
    fields: Mapping[str, Any] | None = None,
    lines: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> int:
    """Who is signed in, scopes, expiry, the secret store, the URLs; never a secret.

    The caller adds its own ``fields`` (JSON), ``lines`` (text, after the URLs) and ``notes``
    (text, at the end).
    """
    store = store or TokenStore.default(profile)
    report: dict[str, Any] = {
        "signed_in": False,
        "mcp_url": profile.resource_url,
        **(fields or {}),
        "secret_store": store.secrets.label,
        "secret_store_warning": store.warning,
        "sessions": [],
    }
    for _, info in _sessions(store):
        key = SessionKey(info.get("issuer", ""), info.get("resource", ""), info.get("client_id", ""))
        tokens = await _load_quietly(store, key)
        report["sessions"].append(
            {
                "issuer": key.issuer,
                "resource": key.resource,
                "client_id": key.client_id,
                "scopes": info.get("scopes", []),
                "access_token_expires_at": info.get("access_expires_at"),
                "refresh_token": "present" if tokens is not None and tokens.refresh_token else "absent",
                "stored_in": info.get("store"),
                "usable_here": tokens is not None,
            }
        )
    report["signed_in"] = any(s["usable_here"] for s in report["sessions"])
    _say(out, json.dumps(report, indent=2) if as_json else _text(report, lines, notes))
    return EXIT_OK


async def _load_quietly(store: TokenStore, key: SessionKey) -> Tokens | None:
    try:
        return await store.load(key)
    except VertexError:
        return None


def _text(report: dict[str, Any], extra: Sequence[str], notes: Sequence[str]) -> str:
    lines = [f"Signed in: {'yes' if report['signed_in'] else 'no'}"]
    for s in report["sessions"]:
        lines += [
            f"  Authorization server: {s['issuer']}",
            f"  Resource: {s['resource']}",
            f"  Client id: {s['client_id']}",
            f"  Scopes: {' '.join(s['scopes']) or '-'}",
            f"  Access token expires at: {s['access_token_expires_at'] or 'unknown'} (Unix time)",
            f"  Refresh token: {s['refresh_token']} (stored in {s['stored_in']})",
        ]
    lines += [
        f"Secret store: {report['secret_store']}",
        f"MCP URL: {report['mcp_url']}",
        *extra,
    ]
    if report["secret_store_warning"]:
        lines.append(f"Warning: {report['secret_store_warning']}")
    lines += notes
    return "\n".join(lines)
