"""``OAuthTokenProvider.unattended_token``: what ``connect``'s early path asks before anything goes
to the resource.  A machine client's token at hand, or its own grant at the token endpoint -- and
never a word to the resource itself (without cached discovery it answers None: finding the metadata
would probe the resource without a token).  The network is a recording httpx2 transport (a seam)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import httpx2
import pytest

from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import ServerMetadata, Target
from vertex_stdio.oauth.protocol.unattended import Machine
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.oauth.storage.store import CachedTarget, SessionKey
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytestmark = pytest.mark.anyio
MCP = "http://127.0.0.1:8765/mcp"
ISSUER = "http://127.0.0.1:8766"
TARGET = Target(
    MCP,
    ServerMetadata(
        ISSUER, f"{ISSUER}/authorize", f"{ISSUER}/token", token_auth_methods=("client_secret_post",)
    ),
    ("sms:send",),
)
MACHINE = Machine("app-1", secret="machine-secret-value")


def _provider(
    store: TokenStore, seen: list[httpx2.Request], machine: Machine | None = MACHINE
) -> OAuthTokenProvider:
    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == "/token":
            return httpx2.Response(
                200, json={"access_token": "fresh-machine-token", "token_type": "Bearer", "expires_in": 600}
            )
        return httpx2.Response(401, headers={"WWW-Authenticate": "Bearer"})

    profile = vertexsms_profile(Settings(mcp_url=MCP).validated())
    return OAuthTokenProvider(
        replace(profile, machine=machine, client_id="app-1"),
        store=store,
        transport=httpx2.MockTransport(answer),
    )


async def _cached(store: TokenStore) -> None:
    await store.cache_target(MCP, CachedTarget(TARGET, time.time()))


async def test_without_cached_discovery_nothing_is_sent_and_no_token_is_ready(tmp_path: Path) -> None:
    seen: list[httpx2.Request] = []
    provider = _provider(TokenStore(tmp_path, MemorySecrets()), seen)
    assert await provider.unattended_token() is None
    assert seen == []


async def test_a_kept_token_is_used_without_any_request(tmp_path: Path) -> None:
    store = TokenStore(tmp_path, MemorySecrets())
    await _cached(store)
    await store.save(
        SessionKey(ISSUER, MCP, "app-1"), Tokens("kept-machine-token", None, time.time() + 600, ("sms:send",))
    )
    seen: list[httpx2.Request] = []
    assert await _provider(store, seen).unattended_token() == "kept-machine-token"
    assert seen == []


async def test_a_due_token_is_got_at_the_token_endpoint_as_token_gets_it(tmp_path: Path) -> None:
    """The same form as ``token`` sends after the resource's 401 (the link's way), and only there."""
    forms = {}
    for way in ("early", "link"):
        store = TokenStore(tmp_path / way, MemorySecrets())
        await _cached(store)
        await store.save(
            SessionKey(ISSUER, MCP, "app-1"), Tokens("old", None, time.time() - 5, ("sms:send",))
        )
        seen: list[httpx2.Request] = []
        provider = _provider(store, seen)
        got = await provider.unattended_token() if way == "early" else await provider.token([])
        assert got == "fresh-machine-token"
        assert [r.url.path for r in seen] == ["/token"]
        forms[way] = parse_qs(seen[0].content.decode())
    assert forms["early"] == forms["link"]
    assert forms["early"]["grant_type"] == ["client_credentials"]
    assert forms["early"]["resource"] == [MCP]


async def test_a_browser_sign_in_is_never_got_here(tmp_path: Path) -> None:
    store = TokenStore(tmp_path, MemorySecrets())
    await _cached(store)
    seen: list[httpx2.Request] = []
    assert await _provider(store, seen, machine=None).unattended_token() is None
    assert seen == []
