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
  server's ``ping`` (any other server request gets "method not found"); a stream that ends
  before the answer, after an event id, is resumed (``sse.py``: GET with ``Last-Event-ID``,
  after the server's ``retry``, as the MCP SDK's client does);
- a 404 to a request that carried a session id means the server ended the session:
  ``SessionLost``, and the next request opens a new one;
- ``close()`` ends the session with a DELETE, bounded.

A session another client opened can be joined (``joined``: its ``Mcp-Session-Id`` and
``MCP-Protocol-Version``): ``connect``'s lean calls (``bridge/leancall.py``) go on the
session its SDK link opened, with ids of their own (``id_prefix``) so they never meet the
link's; the remote's notifications and requests mid-call go to ``on_notification`` and
``on_request`` (its answer, or None for none; run where ``answer_in`` puts it, so the call's
stream is read on meanwhile and a ``notifications/cancelled`` naming the request stops it
unanswered, as JSON-RPC peers do); ``auth`` and ``timeout`` replace the HTTP client's for its
POSTs; ``capabilities`` are declared in the opening (``era="auto"``, or ``"modern"``: never a
2025 handshake, ``mcp_open``).  An HTTP error status is ``HttpStatus`` (its JSON body when it had
one); a 202 to a request is ``Accepted``; an answer neither JSON nor an event stream is
``UnexpectedType`` -- each raised before anything of the answer was taken as the result.

HTTP statuses, transport failures and the size cap are the ``httpx2.AsyncClient``'s
business (its transport and auth come from the caller); a JSON-RPC error answer is raised
as ``RpcError``.  It does not import the SDK: the lean call path (``vertexsms/leancall.py``)
answers a hosted tool call before the SDK is loaded; ``connect``'s lean calls do too.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import httpx2
import pydantic_core

from vertex_stdio.mcpio import mcp_era
from vertex_stdio.mcpio.sse import Resume, event_data

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
CLIENT_INFO = {"name": "vertex-stdio", "version": "1"}
STREAM_END_WAIT = 1.0  # seconds an event stream may stay open after our answer
MAX_RESUMES = 2  # resumptions of an answer's event stream in a row that bring nothing (as the SDK)
CONNECTION_CLOSED = -32000  # the MCP SDK's code for "Connection closed" (and any server error)
CLOSED = {"code": CONNECTION_CLOSED, "message": "Connection closed"}


Message = dict[str, Any]
OnNotification = Callable[[Message], Awaitable[None]]
OnRequest = Callable[[Message], Awaitable[Message | None]]  # a server request -> our answer (None: none)
Spawn = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]  # runs a task beside the caller


class RpcError(Exception):
    """The server answered the request with a JSON-RPC error (``code``, ``message``, ``error``:
    the error object as the server wrote it, ``data`` included when it sent one)."""

    def __init__(self, code: int, message: str, error: Message | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.error = error if error is not None else {"code": code, "message": message}


class SessionLost(Exception):
    """The server no longer knows our session (HTTP 404 to a request that carried its id)."""


class McpHttpError(Exception):
    """The server answered with an HTTP error status or something that is not MCP."""


class AnswerLost(McpHttpError):
    """The server took the request but its event stream ended before the answer (the call may have run)."""


class HttpStatus(McpHttpError):
    """An HTTP error status (``status``); ``body`` is the answer's JSON object when it was one."""

    def __init__(self, status: int, body: Message | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body = status, body


class Accepted(McpHttpError):
    """The server answered a request with 202 Accepted: no answer will come."""


class UnexpectedType(McpHttpError):
    """The answer to a request is neither ``application/json`` nor ``text/event-stream``."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"Unexpected content type: {kind}")
        self.kind = kind


class McpHttpSession:
    """One Streamable HTTP session with an MCP server at ``url``, shared by concurrent callers."""

    def __init__(
        self,
        url: str,
        http: httpx2.AsyncClient,
        client_info: dict[str, str] | None = None,
        *,
        joined: dict[str, str] | None = None,
        id_prefix: str = "",
        on_notification: OnNotification | None = None,
        on_request: OnRequest | None = None,
        auth: httpx2.Auth | None = None,
        timeout: httpx2.Timeout | None = None,
        answer_in: Spawn | None = None,
        era: str | None = None,
        capabilities: dict[str, Any] | None = None,
    ) -> None:
        self._url = url
        self._http = http
        self._auth: Any = auth or httpx2.USE_CLIENT_DEFAULT  # the client's own, unless given
        self._timeout: Any = timeout or httpx2.USE_CLIENT_DEFAULT
        self._client_info = client_info or CLIENT_INFO
        self._ids = itertools.count(1)
        self._prefix = id_prefix
        self._on_notification = on_notification
        self._on_request = on_request or _answer_ping
        self._answer_in = answer_in
        self._answering: dict[str, anyio.CancelScope] = {}  # the server's requests being answered
        # set once initialized, or the headers of the session joined
        self._headers: dict[str, str] | None = {"Accept": ACCEPT, **joined} if joined is not None else None
        self._joined = joined is not None  # a session joined is never opened (nor forgotten) here
        self._lock = anyio.Lock()
        self._era = era  # "auto": opened as the SDK's ``Client(mode="auto")`` opens (``mcp_open``)
        self.capabilities = capabilities or {}  # declared by an ``era`` opening, as the SDK client's
        self.version: str | None = None  # the version negotiated (``era="auto"``), once opened

    async def request(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        id_: int | str | None = None,
    ) -> dict[str, Any]:
        """The ``result`` of one request (with ``headers`` too, and ``id_`` from ``next_id`` when
        the caller must know it); initializes the session first if needed."""
        session = self._headers or await self._initialized()
        return await self._exchange(method, params, {**session, **headers} if headers else session, id_)

    def next_id(self) -> int | str:
        """The id of the next request (``request``'s ``id_``)."""
        return f"{self._prefix}{next(self._ids)}" if self._prefix else next(self._ids)

    async def notify(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """Send one notification on the session (with ``headers`` too)."""
        session = self._headers or await self._initialized()
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        await self._post(message, {**session, **headers} if headers else session)

    async def _initialized(self) -> dict[str, str]:
        async with self._lock:
            if self._headers is not None:
                return self._headers
            if self._era in ("auto", "modern"):
                from vertex_stdio.mcpio.mcp_open import negotiated

                self.version, self._headers = await negotiated(self)
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

    async def _exchange(
        self, method: str, params: dict[str, Any], headers: dict[str, str], id_: int | str | None
    ) -> dict[str, Any]:
        message = (
            {"jsonrpc": "2.0", "id": id_, "method": method, "params": params} if id_ is not None else None
        )
        answer, _ = await self._post(message or self._message(method, params), headers)
        if answer is None:
            raise McpHttpError(f"the server accepted {method} without answering it")
        error = rpc_error(answer)
        if error is not None:
            raise error
        result = answer.get("result")
        if not isinstance(result, dict):
            raise McpHttpError("the server's answer has no result")
        return result

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": self.next_id(), "method": method, "params": params}

    async def _post(
        self, message: dict[str, Any], headers: dict[str, str]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """POST one message; its answer (None for a notification) and the session id header."""
        body = json.dumps(message, separators=(",", ":")).encode()
        request_headers = {**headers, "Content-Type": "application/json"}
        async with self._http.stream(
            "POST", self._url, content=body, headers=request_headers, auth=self._auth, timeout=self._timeout
        ) as response:
            if "method" not in message:
                return None, None  # our answer to the server's request: its status says nothing to us
            if response.status_code == 404 and "Mcp-Session-Id" in headers:
                self._forget(headers)
                raise SessionLost("the MCP server ended the session")
            kind = response.headers.get("content-type", "").lower()
            if response.status_code >= 400:
                read = await response.aread() if kind.startswith("application/json") else None
                raise HttpStatus(response.status_code, _maybe_object(read) if read is not None else None)
            session_id = response.headers.get("mcp-session-id")
            if "id" not in message:
                return None, session_id  # a notification: accepted
            if response.status_code == 202:
                raise Accepted("the server answered a request with 202 Accepted")
            if kind.startswith("text/event-stream"):
                return await self._from_events(response, message["id"], headers), session_id
            if not kind.startswith("application/json"):
                raise UnexpectedType(kind)
            return _json_object(await response.aread()), session_id

    async def _from_events(
        self, response: httpx2.Response, id_: int | str, headers: dict[str, str]
    ) -> dict[str, Any]:
        """The answer to ``id_`` from its event stream; a stream that ends before it, after an event
        id, is resumed (a GET with ``Last-Event-ID``, after the server's ``retry``), as the SDK does."""
        resume, tries = Resume(), 0
        answer = await self._read_events(response, id_, headers, resume)
        while answer is None and resume.last_id is not None and tries < MAX_RESUMES:
            seen, tries = resume.last_id, tries + 1
            await anyio.sleep(resume.delay)
            resuming = {**headers, "Accept": "text/event-stream", "Last-Event-ID": resume.last_id}
            async with self._http.stream(
                "GET", self._url, headers=resuming, auth=self._auth, timeout=self._timeout
            ) as resumed:
                kind = resumed.headers.get("content-type", "").lower()
                if resumed.status_code != 200 or not kind.startswith("text/event-stream"):
                    break
                answer = await self._read_events(resumed, id_, headers, resume)
            tries = 0 if resume.last_id != seen else tries  # it went on: not a failed attempt
        if answer is None:
            raise AnswerLost("the event stream ended before the answer")
        return answer

    async def _read_events(
        self, response: httpx2.Response, id_: int | str, headers: dict[str, str], resume: Resume
    ) -> dict[str, Any] | None:
        events = event_data(response, resume)
        async for data in events:
            if not data:
                continue  # a priming event (an id for resuming, no message)
            message = _json_object(data.encode())
            if message.get("id") == id_ and "method" not in message:
                # The server ends the stream after the answer: read to its end, briefly, so the
                # connection goes back to the pool instead of being dropped half-read.
                with anyio.move_on_after(STREAM_END_WAIT):
                    async for _ in events:
                        pass
                return message
            if "method" in message and "id" in message:  # a request from the server, mid-call
                if self._answer_in is None:
                    await self._answer(message, headers)
                else:
                    self._answer_in(functools.partial(self._answer, message, headers))
            elif "method" in message:
                self._cancelled(message)
                if self._on_notification is not None:
                    await self._on_notification(message)
        return None

    async def _answer(self, request: Message, headers: dict[str, str]) -> None:
        """Answer the server's ``request`` (``on_request``), unless it cancels it first; ended from
        outside (the connection closing), it is answered "Connection closed", as a JSON-RPC peer
        going away answers (the MCP SDK's dispatcher: so the server is not left waiting)."""
        key, answer, scope = str(request["id"]), None, anyio.CancelScope()
        self._answering[key] = scope
        try:
            with scope:
                answer = await self._on_request(request)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                await self._deliver(request, {"error": CLOSED}, headers)
            raise
        finally:
            if self._answering.get(key) is scope:
                del self._answering[key]
        if answer is not None:  # None: cancelled by the server, or left unanswered by ``on_request``
            await self._deliver(request, answer, headers)

    async def _deliver(self, request: Message, answer: Message, headers: dict[str, str]) -> None:
        """POST our answer to the server's ``request``; failing that is the server's to notice."""
        try:
            await self._post(
                {"jsonrpc": "2.0", "id": request["id"], **answer}, mcp_era.answer_headers(headers)
            )
        except Exception as exc:  # noqa: BLE001 - it may run in another's task group: never end it
            log.info(
                "the answer to the server's %s was not delivered (%s)", request["method"], type(exc).__name__
            )

    def _cancelled(self, message: Message) -> None:
        """A ``notifications/cancelled`` of a server request being answered: stopped, never answered
        (the key is the id as text, so a stringified id still correlates)."""
        params = message.get("params")
        if message["method"] == "notifications/cancelled" and isinstance(params, dict):
            scope = self._answering.get(str(params.get("requestId")))
            if scope is not None:
                scope.cancel()

    def _forget(self, headers: dict[str, str]) -> None:
        if self._headers is headers and not self._joined:
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


async def _answer_ping(request: Message) -> Message:
    """What this client answers a server's request: ``ping``, else "method not found"."""
    if request["method"] == "ping":
        return {"result": {}}
    log.info("the MCP server asked for %s, which this client does not offer", request["method"])
    return {"error": {"code": -32601, "message": f"Method not found: {request['method']}"}}


def rpc_error(answer: Message) -> RpcError | None:
    """The JSON-RPC error ``answer`` carries, None when it carries none; ``McpHttpError`` when its
    error is not one."""
    error = answer.get("error")
    if error is None and "error" not in answer:
        return None
    code, message = error.get("code") if isinstance(error, dict) else None, None
    if isinstance(error, dict):
        message = error.get("message")
    if type(code) is not int or not isinstance(message, str):
        raise McpHttpError("the server's error answer is not a JSON-RPC error")
    return RpcError(code, message, error)


def _json_object(data: bytes) -> dict[str, Any]:
    # pydantic's parser, as the SDK's: the same numbers and strings as the SDK path reads them
    try:
        message = pydantic_core.from_json(data)
    except ValueError as exc:
        raise McpHttpError("the server's answer is not JSON") from exc
    if not isinstance(message, dict):
        raise McpHttpError("the server's answer is not a JSON-RPC message")
    return message


def _maybe_object(data: bytes) -> Message | None:
    try:
        return _json_object(data)
    except McpHttpError:
        return None
