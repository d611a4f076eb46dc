"""``earlyrelay`` held to the link: for every request a 2025 remote may send, at every version, and
every way the local client answers, the early session relays the same request to the local client
and answers the remote the same as the link's SDK client does (``Joined.answer`` with
``LocalPeer``'s callbacks over the SDK's own ``ServerSession``, serving a local client on memory
streams as the stdio transport serves it).  A request the local client did not declare is
``earlycall.unasked``'s, held to the same."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import anyio
import pydantic_core
import pytest
from mcp import types
from mcp.client.session import ClientSession
from mcp.server import Server
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter

from vertex_stdio.bridge import earlyrelay
from vertex_stdio.bridge.earlycall import _ASKED, _CAPABILITY, unasked
from vertex_stdio.bridge.joined import Joined
from vertex_stdio.bridge.relay import LocalPeer
from vertex_stdio.mcpio.asks import LocalGone, request_line

pytestmark = pytest.mark.anyio

REMOTE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LOCAL_VERSIONS = ("2025-06-18", "2025-11-25")
ALL = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}
REQUESTS: list[dict[str, Any]] = [
    {"method": "roots/list"},
    {"method": "roots/list", "params": {"_meta": {"k": "ü"}}},
    {"method": "roots/list", "params": {"_meta": {}}},
    {"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi ü"}}], "maxTokens": 7,
    }},
    {"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": "x"}}], "maxTokens": 7,
        "systemPrompt": "be brief", "temperature": 0.5, "stopSequences": ["."], "_meta": {"progressToken": 3},
    }},
    {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 1, "_meta": {}}},
    {"method": "sampling/createMessage", "params": {"messages": []}},  # no maxTokens: invalid params
    {"method": "elicitation/create", "params": {
        "message": "Your name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
    }},
    {"method": "elicitation/create", "params": {
        "mode": "url", "message": "Sign in", "url": "https://example.com/x", "elicitationId": "e1",
    }},
    {"method": "elicitation/create", "params": {"message": 1}},  # invalid params
    {"method": "ping"},
    {"method": "tools/list"},  # not a server's request
]  # fmt: skip
ANSWERS: dict[str, list[dict[str, Any]]] = {  # what the local client answers: valid, an error, malformed
    "roots/list": [
        {"result": {"roots": [{"uri": "file:///home/ü/p", "name": "p"}]}},
        {"result": {"roots": [], "_meta": {"m": 1}}},
        {"result": {"roots": "none"}},
        {"result": {"roots": [{"uri": "https://not-a-file/"}]}},
    ],
    "sampling/createMessage": [
        {"result": {"role": "assistant", "content": {"type": "text", "text": "hé"}, "model": "m", "stopReason": "endTurn"}},
        {"result": {"role": "assistant", "content": {"type": "image", "data": "AA==", "mimeType": "image/png"}, "model": "m"}},
        {"result": {"role": "robot", "content": {"type": "text"}}},
        {"result": {"role": "assistant", "content": [{"type": "text", "text": "a"}], "model": "m"}},
    ],
    "elicitation/create": [
        {"result": {"action": "accept", "content": {"name": "Ülle", "n": 1}}},
        {"result": {"action": "decline"}},
        {"result": {"action": "maybe"}},
        {"result": {"action": "accept", "content": {"tags": ["a", "ü"]}}},  # 2025-11-25's, not 2025-06-18's
    ],
}  # fmt: skip
ERRORS: list[dict[str, Any]] = [
    {"error": {"code": -32042, "message": "no, thanks", "data": {"why": [1, None, "ü"]}}},
    {"error": {"code": -1, "message": ""}},
]
GONE = "gone"  # the local client closed its end


def _replies(method: str) -> list[Any]:
    return [*ANSWERS.get(method, [{"result": {}}]), *ERRORS, GONE]


def _line(message: Any) -> bytes:
    """A message as the stdio transport writes it (``stdio._line``)."""
    return cast(bytes, message.model_dump_json(by_alias=True, exclude_unset=True).encode())


async def _by_link(
    request: dict[str, Any], version: str, local: dict[str, Any], local_version: str, reply: Any
) -> tuple[dict[str, Any] | None, list[bytes]]:
    """The link's answer (``Joined.answer``, ``LocalPeer``'s callbacks over the SDK's server) and the
    lines the local client was sent, its ids made 1, 2, ... as ``request_line`` numbers them."""
    sessions: list[Any] = []

    async def listed(ctx: Any, _params: Any) -> types.ListToolsResult:
        sessions.append(ctx.session)
        return types.ListToolsResult(tools=[])

    server: Server[Any] = Server("local", on_list_tools=listed)
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](8)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage](8)
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        await to_server.send(SessionMessage(jsonrpc_message_adapter.validate_python(message)))

    async with to_server, from_client, to_client, from_server, anyio.create_task_group() as tg:
        tg.start_soon(server.run, from_client, to_client, server.create_initialization_options())
        init = {
            "protocolVersion": local_version,
            "capabilities": local,
            "clientInfo": {"name": "c", "version": "1"},
        }
        await send({"jsonrpc": "2.0", "id": "i", "method": "initialize", "params": init})
        await from_server.receive()
        await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await send({"jsonrpc": "2.0", "id": "l", "method": "tools/list"})
        await from_server.receive()

        async def client() -> None:
            async for got in from_server:
                message = got.message
                if not isinstance(message, types.JSONRPCRequest):
                    continue
                sent.append(_line(message.model_copy(update={"id": len(sent) + 1})))
                if reply == GONE:
                    await to_server.aclose()
                    return
                line = json.dumps({"jsonrpc": "2.0", "id": message.id, **reply}, ensure_ascii=False)
                await to_server.send(SessionMessage(jsonrpc_message_adapter.validate_json(line)))

        tg.start_soon(client)
        peer = LocalPeer(lambda: sessions[0])
        write, read = anyio.create_memory_object_stream[Any](1)
        with write, read:
            session = ClientSession(read, write, **peer.callbacks())
        session._negotiated_version = version
        joined = Joined(http=cast(Any, None), headers={}, client=cast(Any, SimpleNamespace(session=session)))
        with anyio.fail_after(10):
            answered = await joined.answer({"jsonrpc": "2.0", "id": 9, **request})
        tg.cancel_scope.cancel()
    return answered, sent


async def _early(
    request: dict[str, Any], version: str, local: dict[str, Any], local_version: str, reply: Any
) -> tuple[dict[str, Any] | None, list[bytes]]:
    """The early session's answer (``earlyrelay``) and the lines ``asks`` would write for it."""
    sent: list[bytes] = []

    async def ask(asked: dict[str, Any]) -> dict[str, Any]:
        line = pydantic_core.to_json({"jsonrpc": "2.0", "id": len(sent) + 1, **asked})
        assert request_line(len(sent) + 1, asked) == line + b"\n"  # as ``asks`` writes it
        sent.append(line)
        if reply == GONE:
            raise LocalGone("end of input")
        # the answer's line as the local client wrote it, read back as ``asks`` reads it
        return cast(dict[str, Any], json.loads(json.dumps({"jsonrpc": "2.0", "id": len(sent), **reply})))

    local_session = earlyrelay.Asked(ask, local, local_version)
    with anyio.fail_after(10):
        answered = await earlyrelay.answer({"jsonrpc": "2.0", "id": 9, **request}, version, local_session)
    return answered, sent


CASES = [
    (json.dumps(request), version, reply)
    for request in REQUESTS
    for version in REMOTE_VERSIONS
    for reply in _replies(request["method"])
]


@pytest.mark.parametrize("local_version", LOCAL_VERSIONS)
@pytest.mark.parametrize(("request_json", "version", "reply"), CASES)
async def test_the_early_relay_answers_as_the_links_sdk_client(
    request_json: str, version: str, reply: Any, local_version: str
) -> None:
    request = json.loads(request_json)
    theirs = await _by_link(request, version, ALL, local_version, reply)
    ours = await _early(request, version, ALL, local_version, reply)
    assert ours == theirs


@pytest.mark.parametrize("declared", ["roots", "sampling", "elicitation"])
async def test_what_the_local_client_did_not_declare_is_answered_as_the_link_does(declared: str) -> None:
    """Declared: relayed (``earlycall`` relays it); not declared: ``unasked``, the link's answer."""
    local, relays = {declared: ALL[declared]}, 0
    for request in REQUESTS:
        for version in REMOTE_VERSIONS:
            reply = _replies(request["method"])[0]
            theirs, sent = await _by_link(request, version, local, "2025-11-25", reply)
            relays += bool(sent)
            relayed = (
                _CAPABILITY.get(request["method"]) == declared and (request["method"], version) in _ASKED
            )
            if relayed:
                assert await _early(request, version, local, "2025-11-25", reply) == (theirs, sent)
            else:
                assert not sent
                assert unasked({"id": 9, **request}, version) == theirs, (request, version)
    assert relays > 0


async def test_a_relay_is_not_an_echo() -> None:
    """The comparison can fail: a local client's valid answer and its error reach the remote apart."""
    request = REQUESTS[0]
    valid = await _early(request, "2025-11-25", ALL, "2025-11-25", ANSWERS["roots/list"][0])
    refused = await _early(request, "2025-11-25", ALL, "2025-11-25", ERRORS[0])
    gone = await _early(request, "2025-11-25", ALL, "2025-11-25", GONE)
    assert valid[0] == {"result": {"roots": [{"uri": "file:///home/%C3%BC/p", "name": "p"}]}}  # the SDK's URL
    assert refused[0] == ERRORS[0]
    assert gone[0] == {"error": {"code": -32000, "message": "Connection closed"}}
