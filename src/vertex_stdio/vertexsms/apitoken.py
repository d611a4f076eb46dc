"""The API token ``login --token`` keeps: checked once, kept where the sign-in is kept, used by the server.

Precedence for every process: ``VERTEXSMS_API_TOKEN`` (the environment) wins, then the token kept
here, then browser sign-in.  The token is a secret in the sign-in's own secret store
(``TokenStore.default``: the keyring-sealed file, the opt-in 0600 file, never memory), under the
account ``ACCOUNT``; the state file (``auth.json``, no secret) records that it is kept and where,
so ``serve`` and ``status`` know without touching the keyring.  Nothing here prints the token or
any piece of it; every token read or written is registered for redaction first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx2

from vertex_stdio.core.credentials import Challenge, SignInPrompt, TokenProvider
from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.core.http import make_client
from vertex_stdio.core.launcher import command
from vertex_stdio.core.redact import register_secret
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.state import STATE_FILE, StateFile, default_state_dir
from vertex_stdio.oauth.storage.store import TokenStore, namespaced
from vertex_stdio.vertexsms.links import TOKEN_URL
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

ACCOUNT = "vertexsms-api-token"
"""The secret store's account name for the kept token (a sign-in's accounts are URLs)."""
STATE_KEY = "api_token"
"""The state file's entry saying a token is kept, and where (never the token)."""
CHECK_PATH = "/rates/?format=json"
"""The one authenticated GET that checks a token: free and read-only (``doctor`` uses it too)."""
MAX_TOKEN = 4096


class TokenRefused(Exception):
    """The token cannot be kept; the message says why and what to do (exit 1)."""


@dataclass(frozen=True)
class Kept:
    """What the state file says about the kept token: the store's label and when it was kept."""

    store: str
    kept_at: float | None


@dataclass(frozen=True)
class Stored:
    """Where ``keep_pasted`` kept a checked token: the store's label, VertexSMS's word on it, and
    whether it is the opt-in file (then the server needs ``VERTEXSMS_ALLOW_FILE_STORE=1`` too)."""

    store: str
    note: str
    file_store: bool


def read_pasted(inp: TextIO) -> str:
    """The token from a hidden prompt when ``inp`` is a terminal, else everything piped in (bounded)."""
    if inp.isatty():
        import getpass  # only a person at a terminal needs it

        return getpass.getpass("Paste your VertexSMS API token (it is not shown) and press Enter: ")
    return inp.read(MAX_TOKEN + 2)


def keep_pasted(
    settings: Settings,
    *,
    inp: TextIO,
    again: str,
    given: str | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> Stored:
    """Read (or take ``given``), check once with VertexSMS, and keep the token; ``TokenRefused`` else.

    Where it could not be kept is said before anything is read, so nobody pastes in vain;
    ``again`` is the command to run again with ``--allow-file-store`` (as printed).
    """
    store = store_for(settings)
    refusal = cannot_keep(store, again)
    if refusal is not None:
        raise TokenRefused(refusal)
    token = clean(given if given is not None else read_pasted(inp))

    async def run() -> Stored:
        note = await check(settings, token, transport)
        try:
            label = await keep(store, token)
        except VertexError as exc:
            raise TokenRefused(f"The token could not be kept: {exc.message}") from None
        return Stored(label, note, isinstance(store.secrets, FileSecrets))

    return asyncio.run(run())


def clean(text: str) -> str:
    """The token in pasted ``text`` (surrounding blanks and one trailing newline dropped).

    ``TokenRefused`` for nothing, several words, control characters or an absurd length, so a
    pasted shell line or a file of the wrong kind is never kept (the message quotes none of it).
    """
    token = text.strip()
    if not token:
        raise TokenRefused("No token was given: paste the API token (or pipe it in) and try again.")
    if len(token) > MAX_TOKEN or any(c.isspace() or not c.isprintable() for c in token):
        raise TokenRefused(
            "That is not an API token: it must be one word of printable characters, at most "
            f"{MAX_TOKEN} long. Copy the token alone from {TOKEN_URL} and try again."
        )
    return token


async def check(settings: Settings, token: str, transport: httpx2.AsyncBaseTransport | None = None) -> str:
    """Ask VertexSMS once whether it takes ``token`` (``GET /rates/``); a note for the person.

    ``TokenRefused`` when VertexSMS refuses it (401) or cannot be asked: nothing is kept then.
    A 403 is a real token without permission to read rates: kept, with a note.
    """
    register_secret(token)
    url = settings.api_url.rstrip("/") + CHECK_PATH
    headers = {"X-VertexSMS-Token": token, "Accept": "application/json"}
    try:
        async with make_client(timeout=settings.http_timeout, transport=transport) as client:
            answer = await client.get(url, headers=headers)
    except httpx2.HTTPError as exc:
        raise TokenRefused(
            f"Could not reach VertexSMS at {settings.api_url} to check the token ({type(exc).__name__}); "
            "nothing was kept. Check your network, proxy or VERTEXSMS_API_URL and try again."
        ) from None
    if answer.status_code == 401:
        raise TokenRefused(
            "VertexSMS refused this token (HTTP 401): it is wrong, revoked or expired, so it was not "
            f"kept. Create a new one at {TOKEN_URL} and try again."
        )
    if answer.status_code == 403:
        return "VertexSMS knows the token, but it may not read rates (HTTP 403); tools needing that fail."
    if not 200 <= answer.status_code < 300:
        raise TokenRefused(
            f"VertexSMS answered HTTP {answer.status_code} when asked to check the token; nothing was "
            "kept. Try again in a moment."
        )
    return "VertexSMS accepted it."


def store_for(settings: Settings) -> TokenStore:
    """The secret store the sign-in uses in this process (keyring-sealed, opt-in file, or memory)."""
    return TokenStore.default(vertexsms_profile(settings))


def kept_store(settings: Settings, where: Kept) -> TokenStore:
    """The store to read the kept token from: the opt-in file ``where`` names, when the file store
    is allowed (no keyring is asked: it would not be used), else ``store_for``'s."""
    profile = vertexsms_profile(settings)
    if profile.allow_file_store:
        store = TokenStore.in_file(profile, namespaced(default_state_dir(), profile.namespace))
        if store.secrets.label == where.store:
            return store
    return store_for(settings)


def cannot_keep(store: TokenStore, again: str) -> str | None:
    """Why a token kept in ``store`` would be lost when this command ends, or None."""
    if store.secrets.persistent:
        return None
    return (
        f"No usable OS keyring here ({store.secrets.label}), so the token would be lost when this "
        f"command ends; nothing was kept. To keep it in a private file only you can read (mode "
        f"0600), run `{again} --allow-file-store`, and set VERTEXSMS_ALLOW_FILE_STORE=1 in the "
        "client's config so the server finds it."
    )


async def keep(store: TokenStore, token: str) -> str:
    """Keep ``token`` in ``store`` and note where in the state file; the store's label."""
    register_secret(token)
    await store.save_secret(ACCOUNT, token)
    entry = {"store": store.secrets.label, "kept_at": time.time()}
    await store.update_state(lambda data: data.__setitem__(STATE_KEY, entry))
    return store.secrets.label


def kept(state: dict[str, Any]) -> Kept | None:
    """What a state (``TokenStore.read_state()``) says about a kept token; None when none is kept."""
    entry = state.get(STATE_KEY)
    if not isinstance(entry, dict) or not isinstance(entry.get("store"), str):
        return None
    when = entry.get("kept_at")
    return Kept(entry["store"], float(when) if isinstance(when, int | float) else None)


def kept_here() -> Kept | None:
    """The kept token's record in the default state directory: one file read, no keyring."""
    try:
        return kept(StateFile(default_state_dir() / STATE_FILE).read())
    except VertexError:
        return None


async def forget(settings: Settings, store: TokenStore | None = None) -> Kept | None:
    """Delete the kept token from every store it may be in and its record; what was kept, or None."""
    from vertex_stdio.oauth.storage.anywhere import every_store  # logout's: not the server's

    store = store or store_for(settings)
    record = kept(store.read_state())
    for each in every_store(vertexsms_profile(settings), store):
        await each.forget_secret(ACCOUNT)
    if record is not None:
        await store.update_state(lambda data: data.pop(STATE_KEY, None))
    return record


def unreadable(where: Kept, store: TokenStore) -> str:
    """Why the kept token cannot be read by a process using ``store``, and what to do."""
    if where.store.startswith("file (") and not isinstance(store.secrets, FileSecrets):
        fix = (
            "It is in the private file the file store uses: set VERTEXSMS_ALLOW_FILE_STORE=1 in the "
            "client's config (the MCP server's environment) so the server reads it."
        )
    else:
        fix = f"Run `{command('login --token')}` again."
    return (
        f"The API token kept by `{command('login --token')}` in {where.store} is not readable here. {fix} "
        f"Or run `{command('logout')}` to forget it and sign in with the browser."
    )


class KeptTokenProvider:
    """The token ``login --token`` kept, read from the store at the first call, then reused."""

    source = "api-token (kept by login --token)"

    def __init__(self, settings: Settings, where: Kept) -> None:
        self._settings = settings
        self._where = where
        self._token: str | None = None

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        if self._token is None:
            store = kept_store(self._settings, self._where)
            found = await store.load_secret(ACCOUNT)
            if found is None:
                raise AuthRequired(unreadable(self._where, store))
            self._token = found
        return self._token

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        return False

    async def aclose(self) -> None:
        return None


def kept_provider(settings: Settings) -> TokenProvider | None:
    """The provider of the kept token when one is kept here (settings' own token wins), else None."""
    if settings.api_token:
        return None
    where = kept_here()
    return KeptTokenProvider(settings, where) if where is not None else None
