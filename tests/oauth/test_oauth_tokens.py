"""Issue 10: token answers are validated, the leeway scales with the lifetime, tokens never leak.

Token answers come from a fake token endpoint behind an injected transport (the malformed answers
a real server would not give); the upstream cases quote the token from the real emulator.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest
from test_oauth_refresh import AT, RT, provider_for, seeded

from vertex_stdio.core import logs
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.core.errors import UpstreamError, VertexError
from vertex_stdio.oauth.protocol.core import TokenResponseInvalid, Tokens, parse_token_response
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.api.rest import RestUpstream
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

GOOD = {"access_token": "AT-NEW-000001", "token_type": "Bearer", "expires_in": 300}
BAD_ANSWERS = {
    "400-digit expires_in": {**GOOD, "expires_in": int("9" * 400)},
    "NaN expires_in": {**GOOD, "expires_in": float("nan")},
    "Infinity expires_in": {**GOOD, "expires_in": float("inf")},
    "negative expires_in": {**GOOD, "expires_in": -5},
    "string expires_in": {**GOOD, "expires_in": "300"},
    "CRLF in access token": {**GOOD, "access_token": "AT-EVIL\r\nX-Injected: 1"},
    "non-ASCII access token": {**GOOD, "access_token": "AT-\u00e9t\u00e9-000001"},
    "space in refresh token": {**GOOD, "refresh_token": "RT with space"},
    "huge access token": {**GOOD, "access_token": "A" * 20000},
    "no token_type": {k: v for k, v in GOOD.items() if k != "token_type"},
    "MAC token_type": {**GOOD, "token_type": "mac"},
}


@pytest.mark.parametrize("case", BAD_ANSWERS, ids=list(BAD_ANSWERS))
def test_bad_token_answers_are_a_clear_error(case: str) -> None:
    """Each malformed answer is ``TokenResponseInvalid`` that names the field, never its value."""
    body = BAD_ANSWERS[case]
    with pytest.raises(TokenResponseInvalid) as caught:
        parse_token_response(body, now=1000.0, requested=())
    message = caught.value.message
    assert "Nothing already saved was changed" in message
    for value in body.values():
        if isinstance(value, str) and len(value) > 8:
            assert value not in message


def test_leeway_scales_with_lifetime() -> None:
    """60 s for long tokens; a tenth of the life for short ones; 60 s when the life is unknown."""
    now = 1000.0
    long = parse_token_response({**GOOD, "expires_in": 3600}, now=now, requested=())
    short = parse_token_response({**GOOD, "expires_in": 8}, now=now, requested=())
    assert long.leeway == 60.0
    assert short.leeway == pytest.approx(0.8)
    assert short.usable(now + 7.1)
    assert not short.usable(now + 7.3)
    assert Tokens("x" * 10, None, now + 8).leeway == 60.0  # stored before issued_at was kept


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["NaN expires_in", "CRLF in access token", "400-digit expires_in"])
async def test_bad_refresh_answer_loses_nothing_stored(tmp_path: Path, case: str) -> None:
    """A refresh answered with garbage is a clear error; the stored refresh token stays as it was."""
    store, key = await seeded(tmp_path)
    seen: list[dict[str, list[str]]] = []
    provider = provider_for(store, [(200, BAD_ANSWERS[case])], seen)
    try:
        with pytest.raises(UpstreamError) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert "Nothing already saved was changed" in caught.value.message
    assert len(seen) == 1
    kept = await store.load(key)
    assert kept is not None
    assert kept.refresh_token == RT
    assert kept.access_token == AT


@pytest.mark.anyio
async def test_tokens_are_registered_for_redaction_when_issued_and_loaded(tmp_path: Path) -> None:
    """Tokens loaded from the store and tokens from a refresh are scrubbed from logs and errors."""
    store, _ = await seeded(tmp_path)
    fresh = {**GOOD, "access_token": "AT-ROTATED-7f3a9", "refresh_token": "RT-ROTATED-7f3a9"}
    provider = provider_for(store, [(200, fresh)], [])
    try:
        assert await provider.token(["sms:send"]) == "AT-ROTATED-7f3a9"
    finally:
        await provider.aclose()
    quoted = f"upstream said {AT} / {RT} / AT-ROTATED-7f3a9 / RT-ROTATED-7f3a9 are bad"
    assert logs.redact(quoted) == "upstream said [redacted] / [redacted] / [redacted] / [redacted] are bad"


CANARY = "tok-CANARY-5d1e7c0b93"
READ = Operation(tool="get_operator", scope="numbers:read", costs_or_changes=False)
PREFIXES = Operation(tool="get_mobile_prefixes", scope="numbers:read", costs_or_changes=False)


@pytest.mark.anyio
async def test_rest_error_quoting_the_token_is_scrubbed() -> None:
    """A 403 whose body quotes the token it rejected becomes an error without that token."""
    with Emulator(tokens={CANARY: ["numbers:read"]}) as emu:
        emu.inject(
            Fault(
                status=403,
                body=json.dumps({"message": f"token {CANARY} is not allowed here"}).encode(),
                headers={"content-type": "application/json"},
            )
        )
        rest = RestUpstream(emu.api_url, StaticTokenProvider(CANARY), timeout=5.0)
        try:
            with pytest.raises(VertexError) as caught:
                await rest.call(READ, "GET", "/operator/1101")
        finally:
            await rest.aclose()
    text = caught.value.to_json()
    assert CANARY not in text
    assert "is not allowed here" in text


class _QuotingServer(httpx2.AsyncBaseTransport):
    """The real emulator underneath; its ``tools/call`` answers quote the bearer token they got."""

    def __init__(self) -> None:
        self._real = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}") if request.method == "POST" else {}
        if body.get("method") != "tools/call":
            return await self._real.handle_async_request(request)
        token = request.headers["authorization"].removeprefix("Bearer ")
        error = {"code": -32000, "message": f"token {token} rejected by policy"}
        return httpx2.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": error})

    async def aclose(self) -> None:
        await self._real.aclose()


@pytest.mark.anyio
async def test_hosted_error_quoting_the_token_is_scrubbed() -> None:
    """The hosted MCP server's error text that quotes the token is scrubbed the same way."""
    with Emulator(tokens={CANARY: ["numbers:read"]}) as emu:
        hosted = HostedMcpUpstream(
            emu.mcp_url, StaticTokenProvider(CANARY), timeout=5.0, transport=_QuotingServer()
        )
        try:
            with pytest.raises(VertexError) as caught:
                await hosted.call_tool(PREFIXES, {"country": "LT"})
        finally:
            await hosted.aclose()
    text = caught.value.to_json()
    assert CANARY not in text
    assert "rejected by policy" in text


def test_seeded_token_is_expired() -> None:
    """Guard for the refresh cases above: the seeded token is already past its expiry."""
    assert Tokens(AT, RT, time.time() - 10).usable(time.time()) is False
