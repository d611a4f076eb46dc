"""``McpHttpSession(era="auto")`` opens a session as the SDK's ``Client(mode="auto")`` does.

The SDK's own Streamable HTTP server records every POST it receives (method, params with
``_meta``, the MCP headers); the SDK client opens a session and sends one tool call the way the
link does (``send_request`` of a raw request), then ``McpHttpSession`` does the same; what the
server received must be the same, for a modern server (2026-07-28, stateless) and for one that
refuses ``server/discover`` (a 2025 session with an ``Mcp-Session-Id``), and for a server that
answers the probe with -32022 -- for a local client that declares nothing, roots, or all of
roots, sampling and elicitation (the link's SDK client declares for it what ``relay.LocalPeer``'s
callbacks make it declare; ``McpHttpSession`` what ``earlycaps.upstream`` says).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import httpx2
import mcp_types
import pytest
from asgi_body import json_answer, json_object, read_body, replaying
from loopback import serve_in_thread
from mcp import Client
from mcp.client import session as sdk_session
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.types import ClientCapabilities, Implementation, Request
from mcp_types import version as sdk_version
from pydantic import TypeAdapter

from vertex_stdio.bridge.earlycaps import upstream
from vertex_stdio.bridge.relay import LocalPeer
from vertex_stdio.mcpio import mcp_era, mcp_open
from vertex_stdio.mcpio.mcp_http import McpHttpSession

pytestmark = pytest.mark.anyio

INFO = {"name": "vertex-stdio", "version": "1.2.3"}
MCP_HEADERS = ("mcp-protocol-version", "mcp-method", "mcp-name", "accept", "content-type")


def _server() -> MCPServer:
    mcp: MCPServer = MCPServer(name="era-remote", version="1")

    @mcp.tool()
    def echo(value: Any = None) -> str:
        """The value as received."""
        return json.dumps(value)

    return mcp


class Recording:
    """The SDK's server, every POST it receives noted; ``how`` answers ``server/discover`` itself."""

    def __init__(self, how: str) -> None:
        self._app = _server().streamable_http_app(streamable_http_path="/mcp")
        self.how = how
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)
        message = json_object(body)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append(
            {
                "method": message.get("method"),
                "params": message.get("params"),
                "headers": {k: headers[k] for k in MCP_HEADERS if k in headers},
                "session": "mcp-session-id" in headers,
                "answer": "id" in message and "method" not in message,
            }
        )
        if message.get("method") == "server/discover" and self.how != "modern":
            error = {"code": -32601, "message": "Method not found"}
            if self.how == "unsupported":
                data = {"supported": ["2025-11-25", "2025-06-18"], "requested": "2026-07-28"}
                error = {"code": -32022, "message": "Unsupported protocol version", "data": data}
            await json_answer(send, 200, {"jsonrpc": "2.0", "id": message["id"], "error": error})
            return
        await self._app(scope, replaying(body, receive), send)


@pytest.fixture(params=["modern", "refused", "unsupported"])
def remote(request: pytest.FixtureRequest) -> Iterator[tuple[str, Recording]]:
    recording = Recording(str(request.param))
    with serve_in_thread(recording, lifespan="on") as base:
        yield f"{base}/mcp", recording


CALL = {"name": "echo", "arguments": {"value": ["ü🙂", {"a": None}]}}
LOCAL: list[dict[str, Any]] = [
    {},
    {"roots": {}},
    {"roots": {"listChanged": True}, "sampling": {"context": {}, "tools": {}}, "elicitation": {}},
]


@pytest.fixture(params=LOCAL, ids=["declares-nothing", "roots", "roots-sampling-elicitation"])
def local(request: pytest.FixtureRequest) -> dict[str, Any]:
    """What the local client declared in its ``initialize``."""
    return cast(dict[str, Any], request.param)


async def _sdk(url: str, local: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    caps = ClientCapabilities.model_validate(local)
    callbacks = LocalPeer(lambda: cast(Any, SimpleNamespace(client_capabilities=caps))).callbacks()
    async with httpx2.AsyncClient() as http:
        client = Client(
            streamable_http_client(url, http_client=http),
            client_info=Implementation(**INFO),
            cache=None,
            **callbacks,
        )
        async with client:
            raw = Request[dict[str, Any] | None, str](method="tools/call", params=dict(CALL))
            result = await client.session.send_request(raw, cast(Any, TypeAdapter(dict[str, Any])))
            return client.protocol_version, result


async def _ours(url: str, local: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    async with httpx2.AsyncClient() as http:
        session = McpHttpSession(url, http, INFO, era="auto", capabilities=upstream(local))
        await mcp_open.opened(session)
        params, headers = mcp_open.stamped(session, "tools/call", dict(CALL))
        result = await session.request("tools/call", params, headers)
        await session.close()
        return session.version, result


def _posts(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in post.items()} for post in seen if not post["answer"]]


async def test_the_remote_receives_what_the_sdk_client_sends(
    remote: tuple[str, Recording], local: dict[str, Any]
) -> None:
    url, recording = remote
    sdk_version_, sdk_result = await _sdk(url, local)
    theirs, recording.seen = list(recording.seen), []
    version, result = await _ours(url, local)
    ours = recording.seen
    assert version == sdk_version_ == ("2026-07-28" if recording.how == "modern" else "2025-11-25")
    assert result == sdk_result
    assert _posts(ours) == _posts(theirs)
    assert json.dumps(_posts(ours)) == json.dumps(_posts(theirs))  # capabilities in the SDK's key order
    methods = [post["method"] for post in _posts(ours)]
    if recording.how == "modern":
        assert methods == ["server/discover", "tools/call"]
        assert not any(post["session"] for post in ours)
    else:
        assert methods == ["server/discover", "initialize", "notifications/initialized", "tools/call"]
        assert [post["session"] for post in _posts(ours)] == [False, False, True, True]


SAME = {  # each of mcp_era's constants: the SDK's module and name for it
    "LATEST_MODERN": (sdk_version, "LATEST_MODERN_VERSION"),
    "MODERN_VERSIONS": (sdk_version, "MODERN_PROTOCOL_VERSIONS"),
    "HANDSHAKE_VERSIONS": (sdk_version, "HANDSHAKE_PROTOCOL_VERSIONS"),
    "LATEST_HANDSHAKE": (sdk_session, "LATEST_HANDSHAKE_VERSION"),
    "UNSUPPORTED_PROTOCOL_VERSION": (mcp_types, "UNSUPPORTED_PROTOCOL_VERSION"),
    "VERSION_META": (mcp_types, "PROTOCOL_VERSION_META_KEY"),
    "CLIENT_INFO_META": (mcp_types, "CLIENT_INFO_META_KEY"),
    "CAPABILITIES_META": (mcp_types, "CLIENT_CAPABILITIES_META_KEY"),
    "VERSION_HEADER": (sdk_session, "MCP_PROTOCOL_VERSION_HEADER"),
    "METHOD_HEADER": (sdk_session, "MCP_METHOD_HEADER"),
    "NAME_HEADER": (sdk_session, "MCP_NAME_HEADER"),
    "NAME_BEARING": (sdk_session, "NAME_BEARING_METHODS"),
    "DISCOVER_TIMEOUT": (sdk_session, "DISCOVER_TIMEOUT_SECONDS"),
}


@pytest.mark.parametrize("name", SAME)
def test_the_constants_are_the_sdks(name: str) -> None:
    module, theirs = SAME[name]
    assert getattr(mcp_era, name) == getattr(module, theirs)


@pytest.mark.parametrize(
    "value",
    ["echo", "", " lead", "trail ", "ü🙂", "tab\there", "=?base64?aGk=?=", "a\nb", "~!@#$%^&*()", "\x7f"],
)
def test_a_name_header_is_encoded_as_the_sdk_encodes_it(value: str) -> None:
    assert mcp_era.header_value(value) == sdk_session.encode_header_value(value)


def test_a_modern_stamp_is_the_sdks() -> None:
    stamp = sdk_session._make_modern_stamp("2026-07-28", INFO, {}, lambda _name, _args: {})
    for params in ({"name": "x y", "arguments": {}}, {"name": "a", "arguments": {"b": 1}, "_meta": {"k": 1}}):
        data = {"method": "tools/call", "params": json.loads(json.dumps(params))}
        options: dict[str, Any] = {}
        stamp(data, cast(Any, options))
        stamped, headers = mcp_era.modern_stamp("2026-07-28", "tools/call", params, INFO, {})
        assert json.dumps(stamped) == json.dumps(data["params"])  # the same keys in the same order
        assert headers == options["headers"]


async def test_a_modern_only_opening_sends_the_probe_alone(remote: tuple[str, Recording]) -> None:
    """``era="modern"`` (connect's early session for a client that declared what only the link
    relays): where the SDK falls back to ``initialize``, nothing but the probe was sent."""
    url, recording = remote
    async with httpx2.AsyncClient() as http:
        session = McpHttpSession(url, http, INFO, era="modern", capabilities={"roots": {"listChanged": True}})
        if recording.how == "modern":
            await mcp_open.opened(session)
            assert session.version == "2026-07-28"
        else:
            with pytest.raises(mcp_era.Unsure):
                await mcp_open.opened(session)
            assert [post["method"] for post in recording.seen] == ["server/discover"]
