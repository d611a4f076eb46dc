"""The hosted VertexSMS MCP server, reached with the SDK's Streamable HTTP client.

Two tools have no documented REST endpoint (``correct_phone_number`` and
``get_mobile_prefixes``), so they are forwarded as MCP ``tools/call``.  One connection is
kept for the process: a dedicated task owns the SDK ``Client`` (its context must be entered
and left in one task) and callers share it; a broken connection is dropped and the next
call opens a new one.  HTTP outcomes the SDK folds into generic JSON-RPC errors (401, 403,
429, 5xx, refused connections) are observed by a transport wrapper, per call, through a
context variable that the SDK carries from the caller into its request tasks.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from vertex_stdio.credentials import SignInPrompt, TokenProvider, parse_challenge
from vertex_stdio.errors import UpstreamError, VertexError, error_from_envelope
from vertex_stdio.upstream.outcomes import Operation, error_for_status, unavailable, without_sent

log = logging.getLogger(__name__)


@dataclass
class _CallRecord:
    """What the HTTP layer saw while one call was under way."""

    scopes: Sequence[str] = ()
    prompt: SignInPrompt | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    failure: httpx2.TransportError | None = None
    oversized: bool = False
    sent: list[str] = field(default_factory=list)  # the tokens sent: scrubbed from any error


_CURRENT: contextvars.ContextVar[_CallRecord | None] = contextvars.ContextVar(
    "vertex_stdio_hosted_call", default=None
)


class _RecordingTransport(httpx2.AsyncBaseTransport):
    """Wraps the real transport to note error statuses and failures for the current call."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        record = _CURRENT.get()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            if record is not None:
                record.failure = exc
            raise
        if record is not None and response.status_code >= 400:
            record.status = response.status_code
            record.headers = {k.lower(): v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        if isinstance(response.stream, httpx2.AsyncByteStream):
            per_event = "text/event-stream" in response.headers.get("content-type", "")
            response.stream = _CappedStream(response.stream, record, per_event)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


_KEPT_HEADERS = frozenset({"www-authenticate", "retry-after", "content-type"})
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class _CappedStream(httpx2.AsyncByteStream):
    """A response body that fails once one message passes ``MAX_MESSAGE_BYTES``.

    One message is the whole body, or for an event stream (which may stay open for days)
    one event.  Without this the SDK reads any answer whole into memory.
    """

    def __init__(self, inner: httpx2.AsyncByteStream, record: _CallRecord | None, per_event: bool) -> None:
        self._inner = inner
        self._record = record
        self._per_event = per_event

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size, tail = 0, b""
        async for chunk in self._inner:
            size += len(chunk)
            if self._per_event:  # count from the last blank line (the end of an event)
                joined = tail + chunk
                lf, crlf = joined.rfind(b"\n\n"), joined.rfind(b"\r\n\r\n")
                end = max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)
                size = len(joined) - end if end >= 0 else size
                tail = joined[-3:]
            if size > MAX_MESSAGE_BYTES:
                if self._record is not None:
                    self._record.oversized = True
                raise httpx2.RemoteProtocolError("the hosted MCP server's answer is too large")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _BearerAuth(httpx2.Auth):
    """Adds ``Authorization: Bearer`` from the token provider; one retry after a 401."""

    def __init__(self, tokens: TokenProvider) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        record = _CURRENT.get()
        scopes = record.scopes if record else ()
        prompt = record.prompt if record else None
        token = await self._tokens.token(scopes, prompt)
        if record is not None:
            record.sent.append(token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code in (401, 403):
            challenge = parse_challenge(response.headers.get("www-authenticate"))
            renewable = response.status_code == 401 or challenge.error == "insufficient_scope"
            if renewable and await self._tokens.rejected(token, challenge):
                token = await self._tokens.token(scopes, prompt)
                if record is not None:
                    record.sent.append(token)
                request.headers["Authorization"] = f"Bearer {token}"
                yield request

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the hosted-MCP client is async only")


class HostedMcpUpstream:
    """Forwards tool calls to the hosted VertexSMS MCP server over one kept connection."""

    def __init__(
        self,
        url: str,
        tokens: TokenProvider,
        task_group: TaskGroup,
        *,
        timeout: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._tokens = tokens
        self._tg = task_group
        self._timeout = timeout
        self._transport = transport
        self._client: Client | None = None
        self._closed: anyio.Event | None = None
        self._lock = anyio.Lock()

    async def call_tool(
        self, op: Operation, arguments: dict[str, Any], prompt: SignInPrompt | None = None
    ) -> dict[str, Any]:
        """Call ``op.tool`` remotely; return its structured result or raise the contract's error."""
        await self._tokens.token([op.scope], prompt)  # sign in here, not inside the transport
        record = _CallRecord(scopes=(op.scope,), prompt=prompt)
        reset = _CURRENT.set(record)
        try:
            for attempt in (1, 2):
                try:
                    client = await self._connected()
                    result = await client.call_tool(op.tool, arguments, read_timeout_seconds=self._timeout)
                except (
                    MCPError,
                    httpx2.HTTPError,
                    anyio.BrokenResourceError,
                    OSError,
                    ExceptionGroup,
                ) as raised:
                    await self._drop()
                    exc = _leaf(raised)
                    error = _error_from(op, record, exc)
                    if attempt == 1 and not op.costs_or_changes and _worth_reconnecting(record, exc):
                        log.info("%s: hosted MCP connection lost; reconnecting once", op.tool)
                        record.status, record.failure = None, None
                        continue
                    raise error from exc
                return _structured(op, result)
        except VertexError as error:
            without_sent(error, record.sent)  # an upstream may quote the token it rejected
            raise
        finally:
            _CURRENT.reset(reset)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connected(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await self._tg.start(self._own_connection)
            return self._client

    async def _own_connection(self, *, task_status: TaskStatus[Client]) -> None:
        closed = anyio.Event()
        inner = self._transport or httpx2.AsyncHTTPTransport()
        http = httpx2.AsyncClient(
            transport=_RecordingTransport(inner),
            auth=_BearerAuth(self._tokens),
            timeout=httpx2.Timeout(self._timeout, connect=min(10.0, self._timeout)),
            headers={"User-Agent": "vertex-stdio"},
        )
        started = False
        try:
            with anyio.CancelScope() as scope:
                async with http, Client(streamable_http_client(self._url, http_client=http)) as client:
                    self._closed = closed
                    task_status.started(client)
                    started = True
                    await closed.wait()
                    scope.deadline = anyio.current_time() + 2.0  # bound the goodbye (DELETE)
        except Exception as exc:
            # This task lives in the server's task group: whatever ends the connection (a
            # dropped socket, a garbage answer) must end only the connection, never the
            # server.  The call that was using it gets its own error from the SDK.
            if not started:
                raise  # tg.start() hands it to the caller
            log.warning("hosted MCP connection lost (%s)", type(_leaf(exc)).__name__)
            log.debug("hosted MCP connection failure", exc_info=exc)
        finally:
            if self._closed is closed:  # forget it, so the next call opens a new one
                self._client, self._closed = None, None

    async def _drop(self) -> None:
        async with self._lock:
            if self._closed is not None:
                self._closed.set()
            self._client, self._closed = None, None

    async def aclose(self) -> None:
        """Close the kept connection (at shutdown)."""
        await self._drop()


def _leaf(exc: Exception) -> Exception:
    """The failure that matters inside an exception group (the SDK's task groups raise them)."""
    while isinstance(exc, ExceptionGroup):
        known = [
            e for e in exc.exceptions if isinstance(e, MCPError | httpx2.HTTPError | OSError | ExceptionGroup)
        ]
        exc = (known or list(exc.exceptions))[0]
    return exc


def _worth_reconnecting(record: _CallRecord, exc: BaseException) -> bool:
    """A dropped session or connection is worth one new connection; an HTTP refusal is not."""
    if record.status is not None and record.status < 500:
        return False
    if isinstance(exc, MCPError):
        return record.failure is not None or "Session terminated" in exc.error.message
    return True


def _error_from(op: Operation, record: _CallRecord, exc: BaseException) -> VertexError:
    if record.status is not None:
        return error_for_status(op, record.status, record.headers, b"")
    if record.oversized:
        return UpstreamError(
            f"The hosted VertexSMS MCP server's answer is larger than {MAX_MESSAGE_BYTES // 1_048_576} MiB; "
            "it was not read. Try again later."
        )
    if isinstance(exc, VertexError):
        return exc
    if record.failure is not None or not isinstance(exc, MCPError):
        failure = record.failure or exc
        if isinstance(failure, httpx2.TimeoutException | TimeoutError):
            return unavailable(op, "The hosted VertexSMS MCP server did not answer in time.")
        return unavailable(
            op, f"The hosted VertexSMS MCP server could not be reached ({type(failure).__name__})."
        )
    if exc.error.code == -32001 or "timed out" in exc.error.message.lower():
        return unavailable(op, "The hosted VertexSMS MCP server did not answer in time.")
    return UpstreamError(f"The hosted VertexSMS MCP server failed the call: {exc.error.message[:200]}")


def _structured(op: Operation, result: CallToolResult) -> dict[str, Any]:
    text = "".join(c.text for c in result.content if isinstance(c, TextContent))
    if result.is_error:
        raise _envelope_error(text) or UpstreamError(
            f"The hosted VertexSMS MCP server reported an error: {text[:300]}"
        )
    if isinstance(result.structured_content, dict):
        return result.structured_content
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    raise UpstreamError(f"The hosted VertexSMS MCP server gave {op.tool} an answer without data.")


def _envelope_error(text: str) -> VertexError | None:
    """The hosted server's envelope as our error, if the text holds one."""
    try:
        body = json.loads(text[text.find("{") :]) if "{" in text else None
    except ValueError:
        return None
    return error_from_envelope(body)
