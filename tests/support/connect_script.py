"""A remote MCP server for ``connect``'s lean calls: the SDK's own Streamable HTTP server (sessions;
event-stream answers, or JSON with ``json=True``), with a gate in front that fails on request.

Tools: ``echo`` (read-only: the arguments it received, as JSON), ``act`` and ``look`` (the same
script, not read-only and read-only).  ``act``/``look`` take ``how``; the tool itself answers
``ok``, ``structured``, ``tool-error``, ``log`` (two log messages first), ``ping`` (pings the
client first), ``roots`` (asks the client ``roots/list`` first, unrelated to the call -- so, like
``ping``'s, on the session's own stream -- and says what came back) and ``big``; the gate answers
the rest before the server sees them -- an HTTP status, a JSON-RPC error, a dropped connection, a slow answer, a request to the client mid-call -- so each
is the same every time.  ``ask`` (not read-only) sends the client the request ``what`` names --
``roots``, ``sample``, ``elicit`` or ``all`` (each in turn) -- on the call's own stream and says
what came back (a result, or the error).  ``Script.seen`` counts the calls of each ``tool:how``
that reached the gate; ``Script.answers`` keeps what the client answered the remote's own requests,
``Script.notes`` the notifications it sent (a cancel's ``requestId`` left out: each path numbers
its own); ``era="2025"`` refuses ``server/discover``, so the client speaks 2025-11-25; ``slow``
is how long "slow" waits; ``hold_get``, how long a GET (a session's own event stream) waits
before the server takes it: a server slower to open that stream than to take a POST (``math.inf``:
never answered, held until the client goes away, as by a proxy that holds it).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from typing import Any

from asgi_body import answer, json_answer, json_object, read_body, replaying
from client_asks import ROOTS, Ask, form, sampling
from mcp import MCPError, types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.message import ServerMessageMetadata
from mcp.types import ToolAnnotations
from pydantic import BaseModel

BIG = 200_000  # characters: over a --max-answer-mib of 0.1


def _server() -> MCPServer:
    mcp: MCPServer = MCPServer(name="scripted-remote", version="9.9")

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def echo(value: Any = None, other: Any = None) -> str:
        """The arguments as received."""
        return json.dumps({"value": value, "other": other}, ensure_ascii=False, sort_keys=True)

    async def scripted(how: str, ctx: Context) -> Any:
        if how == "structured":
            return {"answer": 42, "nested": {"list": [1, 2.5, None, "ü"]}}
        if how == "tool-error":
            raise ValueError("the tool failed, as asked")
        if how == "log":
            await ctx.info("first message")
            await ctx.warning("second message")
        if how == "ping":
            await ctx.session.send_ping()
        if how == "roots":
            try:
                asked = await ctx.session.send_request(types.ListRootsRequest(), types.ListRootsResult)
                found = asked.model_dump(mode="json", exclude_none=True)
            except MCPError as exc:
                found = {"error": exc.error.model_dump(mode="json", exclude_none=True)}
            return json.dumps(found, sort_keys=True)
        if how == "big":
            return "x" * BIG
        return f"done: {how}"

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False))
    async def act(how: str, ctx: Context) -> Any:
        """The script, not read-only."""
        return await scripted(how, ctx)

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
    async def look(how: str, ctx: Context) -> Any:
        """The script, read-only."""
        return await scripted(how, ctx)

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False))
    async def ask(what: str, ctx: Context) -> str:
        """Ask the client ``what`` mid-call; what came back, as JSON."""
        found = [
            await _ask(one, ctx) for one in (("roots", "sample", "elicit") if what == "all" else (what,))
        ]
        return json.dumps(found, ensure_ascii=False, sort_keys=True)

    return mcp


class _Name(BaseModel):
    name: str


_ASKED: dict[str, Ask] = {
    "roots": ROOTS,
    "sample": sampling("hi ü"),
    "elicit": form("Your name?", _Name.model_json_schema()),
}


async def _ask(what: str, ctx: Context) -> Any:
    """The client's answer to ``what``, sent on the call's stream (related to the call)."""
    request, result = _ASKED[what]
    related = ServerMessageMetadata(related_request_id=ctx.request_id)
    try:
        answer = await ctx.request_context.session.send_request(request, result, metadata=related)
    except MCPError as exc:
        return {"error": exc.error.model_dump(mode="json", exclude_none=True)}
    except Exception as exc:  # noqa: BLE001 - what the remote made of the answer is what is compared
        return {"failed": type(exc).__name__}
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)


class Script:
    """The ASGI app: the gate in front of the SDK's server."""

    def __init__(
        self, *, json_response: bool = False, era: str | None = None, slow: float = 4.0, hold_get: float = 0.0
    ) -> None:
        self._app = _server().streamable_http_app(streamable_http_path="/mcp", json_response=json_response)
        self._era = era
        self._slow = slow  # seconds "slow" waits before the server answers
        self._hold_get = hold_get
        self.seen: Counter[str] = Counter()
        self.answers: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            if scope.get("method") == "GET" and self._hold_get == math.inf:
                while (await receive())["type"] != "http.disconnect":  # never answered: held until it goes
                    pass
                return
            if scope.get("method") == "GET" and self._hold_get:
                await asyncio.sleep(self._hold_get)
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)
        message = json_object(body)
        how = _how(message)
        if "method" not in message and "id" in message:
            self.answers.append(message)
        elif "id" not in message and "method" in message:
            params = {k: v for k, v in (message.get("params") or {}).items() if k != "requestId"}
            self.notes.append({"method": message["method"], "params": params})
        elif self._era == "2025" and message.get("method") == "server/discover":
            refused = {"code": -32601, "message": "Method not found"}
            await json_answer(send, 200, {"jsonrpc": "2.0", "id": message.get("id"), "error": refused})
            return
        if how is not None:
            self.seen[f"{message['params']['name']}:{how}"] += 1
            if await _gate(how, message, send, self._slow):
                return
        await self._app(scope, replaying(body, receive), send)


async def _gate(how: str, message: dict[str, Any], send: Any, slow: float) -> bool:
    """Answer ``how`` here (True), or let the server answer it (False)."""
    id_ = message.get("id")
    error = {"code": -32099, "message": "refused by the remote", "data": {"why": [1, None, "ü"]}}
    if how == "rpc-error":
        await json_answer(send, 200, {"jsonrpc": "2.0", "id": id_, "error": error})
    elif how == "rpc-error-null-data":
        await json_answer(send, 200, {"jsonrpc": "2.0", "id": id_, "error": {**error, "data": None}})
    elif how == "rpc-error-400":
        await json_answer(
            send, 400, {"jsonrpc": "2.0", "id": id_, "error": {"code": -32602, "message": "bad"}}
        )
    elif how == "rpc-error-closed":  # the SDK's own code for a closed connection, from the remote
        await json_answer(send, 200, {"jsonrpc": "2.0", "id": id_, "error": {"code": -32000, "message": "x"}})
    elif how in ("500", "503", "404", "202"):
        await answer(send, int(how), b"no" if how != "202" else b"", b"text/plain")
    elif how == "text":
        await answer(send, 200, b"hello", b"text/plain")
    elif how == "sse-unanswered":
        note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"bye"}}'
        await answer(send, 200, b"event: message\ndata: " + note + b"\n\n", b"text/event-stream")
    elif how == "asks":  # a request to the client mid-call (its answer is kept), then the answer
        ask = {"jsonrpc": "2.0", "id": "ask-1", "method": "roots/list"}
        sample = {"jsonrpc": "2.0", "id": "ask-2", "method": "sampling/createMessage", "params": {}}
        unknown = {"jsonrpc": "2.0", "id": "ask-3", "method": "x/unknown"}
        result = {"content": [{"type": "text", "text": "asked"}], "isError": False}
        events = [ask, sample, unknown, {"jsonrpc": "2.0", "id": id_, "result": result}]
        stream = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        await answer(send, 200, stream, b"text/event-stream")
    elif how == "input-required":  # a 2026-07-28 multi-round-trip answer: what the client needs first
        asks = {"roots": {"method": "roots/list"}}
        result = {"resultType": "input_required", "inputRequests": asks, "requestState": "s-ü"}
        await json_answer(send, 200, {"jsonrpc": "2.0", "id": id_, "result": result})
    elif how == "drop":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": False})
    elif how == "slow":
        await asyncio.sleep(slow)
        return False
    else:
        return False
    return True


def _how(message: dict[str, Any]) -> str | None:
    params = message.get("params")
    if message.get("method") != "tools/call" or not isinstance(params, dict):
        return None
    arguments = params.get("arguments")
    how = arguments.get("how") if isinstance(arguments, dict) else None
    return how if isinstance(how, str) else None
