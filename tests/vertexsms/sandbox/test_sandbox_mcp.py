"""The emulator's hosted MCP server: tools over the SDK client, envelopes, bearer gate, metadata."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator

pytestmark = pytest.mark.anyio

SCOPES = ["sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.add_token("no-numbers", {"sms:send"})
        yield emulator


@asynccontextmanager
async def connected(emu: Emulator, token: str = SANDBOX_TOKEN) -> AsyncIterator[Client]:
    """The SDK client on the emulator's /mcp (verify=False: plain loopback http, no CA bundle load)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, verify=False)
    async with http, Client(streamable_http_client(emu.mcp_url, http_client=http)) as client:
        yield client


def envelope(result: CallToolResult) -> dict[str, Any]:
    """The error object of a failed call, checking the text is exactly the envelope."""
    assert result.is_error
    (block,) = result.content
    assert isinstance(block, TextContent)
    body = json.loads(block.text)
    assert list(body) == ["error"]
    assert {"code", "message", "retryable", "vertex_error_code"} <= body["error"].keys()
    assert body["error"]["vertex_error_code"] is None
    return dict(body["error"])


async def test_lists_exactly_the_two_hosted_only_tools(emu: Emulator) -> None:
    """The hosted server offers the two tools the REST API has no endpoint for."""
    async with connected(emu) as client:
        tools = await client.list_tools()
    assert sorted(t.name for t in tools.tools) == ["correct_phone_number", "get_mobile_prefixes"]


async def test_correct_phone_number_documented_example(emu: Emulator) -> None:
    """The three documented Lithuanian inputs all become +37061860698."""
    inputs = ["861860698", "(370)-618-60698", "6186 0698"]
    async with connected(emu) as client:
        result = await client.call_tool(
            "correct_phone_number", {"numbers": [{"number": n, "country": "LT"} for n in inputs]}
        )
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert data["count"] == 3
    for given, row in zip(inputs, data["results"], strict=True):
        assert row == {
            "input_number": given,
            "country": "LT",
            "number_type": "mobile",
            "mobile": True,
            "number_e164": "+37061860698",
            "error": None,
        }


async def test_correct_phone_number_reports_per_number_problems(emu: Emulator) -> None:
    """Invalid numbers and unsupported countries fail one row, not the call."""
    numbers = [
        {"number": "852123456", "country": "LT"},
        {"number": "12", "country": "LT"},
        {"number": "0612345678", "country": "JP"},
    ]
    async with connected(emu) as client:
        result = await client.call_tool("correct_phone_number", {"numbers": numbers})
    assert result.structured_content is not None
    landline, short, japan = result.structured_content["results"]
    assert (landline["number_type"], landline["mobile"], landline["number_e164"]) == (
        "landline",
        False,
        "+37052123456",
    )
    assert (short["number_e164"], short["number_type"]) == (None, "unknown")
    assert short["error"]
    assert japan["error"] == "Country JP is not supported."


async def test_get_mobile_prefixes(emu: Emulator) -> None:
    """Prefixes are international digits without '+', with operator, MCC and MNC."""
    async with connected(emu) as client:
        result = await client.call_tool("get_mobile_prefixes", {"country": "LT"})
    data = result.structured_content
    assert data is not None
    assert (data["country"], data["country_name"], data["calling_code"]) == ("LT", "Lithuania", "370")
    assert {"prefix": "37061", "operator": "Telia Lietuva", "mcc": "246", "mnc": "01"} in data["prefixes"]
    assert all(p["prefix"].startswith("3706") for p in data["prefixes"])


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_mobile_prefixes", {"country": "ZZ"}),
        ("get_mobile_prefixes", {"country": "LTU"}),
        ("get_mobile_prefixes", {}),
        ("correct_phone_number", {"numbers": []}),
        ("correct_phone_number", {"numbers": [{"number": "1", "country": "LT"}] * 101}),
        ("correct_phone_number", {"numbers": [{"number": "861860698"}]}),
        ("send_sms", {"to": "37061860698"}),
    ],
)
async def test_failures_are_invalid_input_envelopes(
    emu: Emulator, tool: str, arguments: dict[str, Any]
) -> None:
    """Bad arguments, unknown countries and unknown tools are INVALID_INPUT, not retryable."""
    async with connected(emu) as client:
        result = await client.call_tool(tool, arguments)
    error = envelope(result)
    assert (error["code"], error["retryable"]) == ("INVALID_INPUT", False)


def metadata_url(emu: Emulator) -> str:
    return f"{emu.api_url}/.well-known/oauth-protected-resource/mcp"


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


async def post_mcp(emu: Emulator, headers: dict[str, str]) -> httpx2.Response:
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(verify=False) as http:
        return await http.post(emu.mcp_url, json=INIT, headers={**accept, **headers})


async def test_no_token_is_401_with_resource_metadata(emu: Emulator) -> None:
    """No Authorization header: 401, a Bearer challenge naming the metadata, an AUTH_REQUIRED body."""
    response = await post_mcp(emu, {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer resource_metadata="{metadata_url(emu)}"'
    assert response.json()["error"]["code"] == "AUTH_REQUIRED"


async def test_unknown_token_is_401_invalid_token(emu: Emulator) -> None:
    """An unknown bearer token: 401 with error="invalid_token"."""
    response = await post_mcp(emu, {"Authorization": "Bearer nope"})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == f'Bearer error="invalid_token", resource_metadata="{metadata_url(emu)}"'
    assert response.json()["error"]["code"] == "AUTH_INVALID"


async def test_token_without_numbers_read_is_403_insufficient_scope(emu: Emulator) -> None:
    """A valid token lacking numbers:read: 403 with an insufficient_scope challenge."""
    response = await post_mcp(emu, {"Authorization": "Bearer no-numbers"})
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="numbers:read", resource_metadata="{metadata_url(emu)}"'
    )
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


async def test_a_valid_token_passes_the_gate(emu: Emulator) -> None:
    """With the sandbox token, initialize answers 200 JSON."""
    response = await post_mcp(emu, {"Authorization": f"Bearer {SANDBOX_TOKEN}"})
    assert response.status_code == 200
    assert response.json()["result"]["serverInfo"]["name"] == "vertexsms-sandbox"


async def test_token_check_hook_also_guards_mcp(emu: Emulator) -> None:
    """A token resolved by token_check is accepted on /mcp."""
    emu.token_check = lambda token: frozenset({"numbers:read"}) if token == "from-oauth" else None
    try:
        async with connected(emu, "from-oauth") as client:
            result = await client.call_tool("get_mobile_prefixes", {"country": "EE"})
    finally:
        emu.token_check = None
    assert not result.is_error


@pytest.mark.parametrize("suffix", ["", "/mcp"])
async def test_protected_resource_metadata(emu: Emulator, suffix: str) -> None:
    """RFC 9728 metadata at both well-known paths, without a token."""
    async with httpx2.AsyncClient(verify=False) as http:
        response = await http.get(f"{emu.api_url}/.well-known/oauth-protected-resource{suffix}")
    assert response.json() == {
        "resource": emu.mcp_url,
        "authorization_servers": [],
        "bearer_methods_supported": ["header"],
        "scopes_supported": SCOPES,
    }


def test_authorization_servers_are_configurable() -> None:
    """The metadata advertises the authorization servers given to the emulator."""
    with Emulator(authorization_servers=["https://as.example"]) as emu:
        body = httpx2.get(f"{emu.api_url}/.well-known/oauth-protected-resource", verify=False).json()
    assert body["authorization_servers"] == ["https://as.example"]


async def test_mcp_requests_are_journaled(emu: Emulator) -> None:
    """Requests to /mcp land in the journal with their (lower-case) headers and body."""
    emu.clear_journal()
    async with connected(emu) as client:
        await client.call_tool("get_mobile_prefixes", {"country": "SE"})
    posts = emu.journal_for("POST", "/mcp")
    assert posts
    assert all(seen.headers["authorization"] == f"Bearer {SANDBOX_TOKEN}" for seen in posts)
    assert any(b"get_mobile_prefixes" in seen.body for seen in posts)
