"""Refresh error handling through an injected transport: 5xx keeps the sign-in, invalid_grant clears it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx2
import pytest

from vertex_stdio.core.credentials import Challenge
from vertex_stdio.core.errors import AuthRequired, UpstreamUnavailable
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.oauth.storage.store import SessionKey
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

MCP = "https://mcp.test/mcp"
ISSUER = "https://as.test"
RT = "RT-CANARY-0001"
AT = "AT-CANARY-0001"


def transport(
    token_answers: list[tuple[int, dict[str, object]]], seen: list[dict[str, list[str]]]
) -> httpx2.MockTransport:
    """A fake VertexSMS resource + AS whose token endpoint gives ``token_answers`` in turn."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/.well-known/oauth-protected-resource/mcp":
            return httpx2.Response(200, json={"resource": MCP, "authorization_servers": [ISSUER]})
        if path == "/.well-known/oauth-authorization-server":
            return httpx2.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if path == "/token":
            seen.append(parse_qs(request.content.decode()))
            status, body = token_answers.pop(0)
            # json.dumps writes NaN/Infinity as their JS spellings, as a broken server would.
            raw = json.dumps(body).encode()
            return httpx2.Response(status, content=raw, headers={"content-type": "application/json"})
        return httpx2.Response(401 if path == "/mcp" else 404)

    return httpx2.MockTransport(handle)


async def seeded(tmp_path: Path) -> tuple[TokenStore, SessionKey]:
    store = TokenStore(tmp_path, MemorySecrets())
    key = SessionKey(ISSUER, MCP, "client-1")
    await store.update_state(
        lambda d: d.setdefault("clients", {}).__setitem__(ISSUER, {"client_id": "client-1", "issuer": ISSUER})
    )
    await store.save(key, Tokens(AT, RT, time.time() - 10, ("sms:send",)))
    return store, key


def provider_for(
    store: TokenStore, answers: list[tuple[int, dict[str, object]]], seen: list[dict[str, list[str]]]
) -> OAuthTokenProvider:
    settings = Settings(mcp_url=MCP, signin_timeout=1.0).validated()

    async def no_browser(url: str) -> bool:
        return False

    return OAuthTokenProvider(
        vertexsms_profile(settings), store=store, transport=transport(answers, seen), opener=no_browser
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer", [(503, {}), (400, {"error": "temporarily_unavailable"}), (500, {"error": "server_error"})]
)
async def test_refresh_outage_keeps_the_refresh_token(
    tmp_path: Path, answer: tuple[int, dict[str, object]]
) -> None:
    """A 5xx or temporarily_unavailable is retryable and leaves the stored refresh token alone."""
    store, key = await seeded(tmp_path)
    seen: list[dict[str, list[str]]] = []
    provider = provider_for(store, [answer], seen)
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert caught.value.retryable
    assert RT not in caught.value.message
    stored = await store.load(key)
    assert stored is not None
    assert stored.refresh_token == RT
    assert seen[0]["resource"] == [MCP]
    assert seen[0]["grant_type"] == ["refresh_token"]


@pytest.mark.anyio
async def test_invalid_grant_clears_and_asks_to_sign_in_without_echoing(tmp_path: Path) -> None:
    """invalid_grant (even with a description echoing the token) clears the sign-in; the message is clean."""
    store, key = await seeded(tmp_path)
    seen: list[dict[str, list[str]]] = []
    answer = (400, {"error": "invalid_grant", "error_description": f"token {RT} was revoked"})
    provider = provider_for(store, [answer], seen)
    try:
        with pytest.raises(AuthRequired) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert RT not in json.dumps(caught.value.envelope())
    assert await store.load(key) is None
    assert len(seen) == 1


@pytest.mark.anyio
async def test_401_triggers_one_refresh_and_persists_rotation_first(tmp_path: Path) -> None:
    """After a 401 the provider refreshes once; the rotated refresh token is stored; a second 401 gives up."""
    store, key = await seeded(tmp_path)
    seen: list[dict[str, list[str]]] = []
    fresh = {"access_token": "AT-2", "refresh_token": "RT-2", "token_type": "Bearer", "expires_in": 600}
    provider = provider_for(store, [(200, fresh)], seen)
    try:
        assert await provider.token(["sms:send"]) == "AT-2"
        assert await provider.rejected("AT-2", Challenge()) is True
        assert await provider.rejected("AT-2", Challenge()) is False
    finally:
        await provider.aclose()
    stored = await store.load(key)
    assert stored is not None
    assert stored.refresh_token == "RT-2"
    assert [s["refresh_token"] for s in seen] == [[RT]]
