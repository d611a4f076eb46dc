"""A small MCP Streamable HTTP caller: one session, one POST per request, nothing else.

What the SDK's ``Client`` does for a tool call -- a task group, memory streams and a
dispatcher per session, a task per request, a ``tools/list`` to learn output schemas and a
jsonschema check of every result -- costs more CPU than the forwarding itself
(benchmarks/README.md).  This caller does only what the protocol needs
(the MCP spec's "Streamable HTTP" transport, 2025-03-26 and later):

- ``initialize`` once, keeping the ``Mcp-Session-Id`` the server gives (if any) and sending
  it and ``MCP-Protocol-Version`` with every later request; ``notifications/initialized``;
- each request is one POST accepting ``application/json`` or ``text/event-stream``; an event
  stream is read until the answer to that request, skipping notifications and answering a
  server's ``ping`` (any other server request gets "method not found");
- a 404 to a request that carried a session id means the server ended the session:
  ``SessionLost``, and the next request opens a new one;
- ``close()`` ends the session with a DELETE, bounded.

HTTP statuses, transport failures and the size cap are the ``httpx2.AsyncClient``'s
business (its transport and auth come from the caller); a JSON-RPC error answer is raised
as ``RpcError``.  It does not import the SDK: the lean call path (``vertexsms/leancall.py``)
answers a hosted tool call before the SDK is loaded.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
CLIENT_INFO = {"name": "vertex-stdio", "version": "1"}
STREAM_END_WAIT = 1.0  # seconds an event stream may stay open after our answer
CONNECTION_CLOSED = -32000  # the MCP SDK's code for "Connection closed" (and any server error)


class RpcError(Exception):
    """The server answered the request with a JSON-RPC error (``code``, ``message``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class SessionLost(Exception):
    """The server no longer knows our session (HTTP 404 to a request that carried its id)."""


class McpHttpError(Exception):
    """The server answered with an HTTP error status or something that is not MCP."""


class AnswerLost(McpHttpError):
    """The server took the request but its event stream ended before the answer (the call may have run)."""


class McpHttpSession:
    """One Streamable HTTP session with an MCP server at ``url``, shared by concurrent callers."""

    def __init__(self, url: str, http: httpx2.AsyncClient, client_info: dict[str, str] | None = None) -> None:
        self._url = url
        self._http = http
        self._client_info = client_info or CLIENT_INFO
        self._ids = itertools.count(1)
        self._headers: dict[str, str] | None = None  # set once initialized
        self._lock = anyio.Lock()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The ``result`` of one request; initializes the session first if needed."""
        headers = self._headers or await self._initialized()
        return await self._exchange(method, params, headers)

    async def _initialized(self) -> dict[str, str]:
        async with self._lock:
            if self._headers is not None:
                return self._headers
            headers = {"Accept": ACCEPT}
            params = {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": self._client_info,
            }
            result, session_id = await self._post(self._message("initialize", params), headers)
            if result is None or not isinstance(result.get("result"), dict):
                raise McpHttpError("the server did not answer initialize")
            version = result["result"].get("protocolVersion")
            if isinstance(version, str):
                headers["MCP-Protocol-Version"] = version
            if session_id:
                headers["Mcp-Session-Id"] = session_id
            await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
            self._headers = headers
            return headers

    async def _exchange(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        answer, _ = await self._post(self._message(method, params), headers)
        if answer is None:
            raise McpHttpError(f"the server accepted {method} without answering it")
        error = answer.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if type(code) is not int or not isinstance(message, str):
                raise McpHttpError("the server's error answer is not a JSON-RPC error")
            raise RpcError(code, message)
        result = answer.get("result")
        if not isinstance(result, dict):
            raise McpHttpError("the server's answer has no result")
        return result

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}

    async def _post(
        self, message: dict[str, Any], headers: dict[str, str]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """POST one message; its answer (None for a notification) and the session id header."""
        body = json.dumps(message, separators=(",", ":")).encode()
        request_headers = {**headers, "Content-Type": "application/json"}
        async with self._http.stream("POST", self._url, content=body, headers=request_headers) as response:
            if response.status_code == 404 and "Mcp-Session-Id" in headers:
                self._forget(headers)
                raise SessionLost("the MCP server ended the session")
            if response.status_code >= 400:
                raise McpHttpError(f"HTTP {response.status_code}")
            session_id = response.headers.get("mcp-session-id")
            if "id" not in message or "method" not in message or response.status_code == 202:
                return None, session_id  # a notification, or our answer to the server: accepted
            kind = response.headers.get("content-type", "")
            if "text/event-stream" in kind:
                return await self._from_events(response, message["id"], headers), session_id
            return _json_object(await response.aread()), session_id

    async def _from_events(
        self, response: httpx2.Response, id_: int, headers: dict[str, str]
    ) -> dict[str, Any]:
        events = _event_data(response)
        async for data in events:
            message = _json_object(data.encode())
            if message.get("id") == id_ and "method" not in message:
                # The server ends the stream after the answer: read to its end, briefly, so the
                # connection goes back to the pool instead of being dropped half-read.
                with anyio.move_on_after(STREAM_END_WAIT):
                    async for _ in events:
                        pass
                return message
            if "method" in message and "id" in message:  # a request from the server, mid-call
                await self._answer_server(message, headers)
        raise AnswerLost("the event stream ended before the answer")

    async def _answer_server(self, request: dict[str, Any], headers: dict[str, str]) -> None:
        if request["method"] == "ping":
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"], "result": {}}
        else:
            log.info("hosted MCP server asked for %s, which this client does not offer", request["method"])
            error = {"code": -32601, "message": f"Method not found: {request['method']}"}
            answer = {"jsonrpc": "2.0", "id": request["id"], "error": error}
        await self._post(answer, headers)

    def _forget(self, headers: dict[str, str]) -> None:
        if self._headers is headers:
            self._headers = None

    async def close(self) -> None:
        """End the session on the server (DELETE, at most 2 s); the HTTP client is the caller's."""
        headers, self._headers = self._headers, None
        if headers is None or "Mcp-Session-Id" not in headers:
            return
        with anyio.move_on_after(2.0), _quietly():
            await self._http.delete(self._url, headers=headers)


class _quietly:
    """Ignore what a goodbye can meet (the server gone, a refusal): nothing waits on it."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, httpx2.HTTPError | OSError)


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise McpHttpError("the server's answer is not JSON") from exc
    if not isinstance(message, dict):
        raise McpHttpError("the server's answer is not a JSON-RPC message")
    return message


async def _event_data(response: httpx2.Response) -> AsyncIterator[str]:
    """The ``data`` of each event of a ``text/event-stream`` body (WHATWG server-sent events)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
