"""How ``McpHttpSession(era="auto")`` opens its session (``mcp_era.negotiate`` over its POSTs) and,
for a 2025 session, its own event stream (``listen``), as the SDK's client does both; how a request
is stamped for the era negotiated (``stamped``), declaring the session's ``capabilities`` as the SDK
client declares its own; how a call given up is told (``abandoned``).  ``era="modern"``: where the SDK would fall back to ``initialize``, this
raises ``mcp_era.Unsure`` instead (only the probe was sent).  SDK-free."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from vertex_stdio.mcpio import mcp_era
from vertex_stdio.mcpio.sse import Resume, event_data

if TYPE_CHECKING:
    from vertex_stdio.mcpio.mcp_http import McpHttpSession

Message = dict[str, Any]
log = logging.getLogger(__name__)


async def negotiated(session: McpHttpSession) -> tuple[str, dict[str, str]]:
    """The version ``session`` negotiated and its headers from then on (a 2025 session: its id and
    version; a modern one: none, each request is stamped)."""
    from vertex_stdio.mcpio.mcp_http import ACCEPT, HttpStatus, McpHttpError, rpc_error

    kept: dict[str, str] = {}

    async def exchange(method: str, params: Message | None, extra: dict[str, str]) -> Message:
        if method == "initialize" and session._era == "modern":  # the caller opens no 2025 session
            raise mcp_era.Unsure("the server wants a 2025 handshake")
        message = session._message(method, params or {})
        try:
            with anyio.fail_after(mcp_era.DISCOVER_TIMEOUT if method == "server/discover" else None):
                answer, session_id = await session._post(message, {"Accept": ACCEPT, **extra})
        except HttpStatus as exc:  # the SDK's transport passes a JSON-RPC error on, else makes one
            try:
                carried = rpc_error(exc.body) if exc.body is not None else None
            except McpHttpError:
                carried = None
            raise mcp_era.Refused(carried.error if carried is not None else None) from exc
        if answer is None:
            raise mcp_era.Unsure(f"no answer to {method}")
        result = answer.get("result")
        if method == "initialize" and isinstance(result, dict):
            if session_id:
                kept["Mcp-Session-Id"] = session_id
            if result.get("protocolVersion") in mcp_era.HANDSHAKE_VERSIONS:
                kept[mcp_era.VERSION_HEADER] = str(result["protocolVersion"])
                initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                await session._post(initialized, {"Accept": ACCEPT, **kept})
        return answer

    version, _ = await mcp_era.negotiate(exchange, session._client_info, session.capabilities)
    return version, {"Accept": ACCEPT, **({} if version in mcp_era.MODERN_VERSIONS else kept)}


def modern(session: McpHttpSession) -> bool:
    """Whether ``session`` speaks a modern (2026-07-28) version: every request is stamped."""
    return session.version in mcp_era.MODERN_VERSIONS


def stamped(session: McpHttpSession, method: str, params: Message) -> tuple[Message, dict[str, str]]:
    """``params`` and the headers of a request as the SDK client stamps it for ``session``'s era
    (modern: the ``_meta`` envelope and the MCP headers; else the session's headers only)."""
    if session.version is None or not modern(session):
        return params, {}
    return mcp_era.modern_stamp(session.version, method, params, session._client_info, session.capabilities)


async def opened(session: McpHttpSession) -> None:
    """Open ``session`` now (negotiated, with ``era="auto"``) unless it is open."""
    if session._headers is None:
        await session._initialized()


async def abandoned(session: McpHttpSession, id_: int | str, reason: str, headers: dict[str, str]) -> None:
    """Tell the remote a call is given up (timed out, or cancelled by the local client), as the SDK
    client's courtesy ``notifications/cancelled`` does, so it stops work the answer of which no one
    awaits -- and the requests it sent the local client for it (bounded, as there: 5 s)."""
    with anyio.move_on_after(5.0):
        try:
            await session.notify("notifications/cancelled", {"requestId": id_, "reason": reason}, headers)
        except Exception as exc:  # noqa: BLE001 - a courtesy: the call's own failure is what is told
            log.debug("the cancel of a call was not delivered (%s)", type(exc).__name__)


STREAM_WAIT = 3.0  # seconds, at most, a call on a new session waits for its own event stream


def stream_wait(timeout: float) -> float:
    """How long a call on a new 2025 session waits for the session's own event stream to be
    answered, with ``timeout`` the HTTP timeout: ``STREAM_WAIT``, or less when the timeout is:
    headers slower than that are a remote (or proxy) not answering."""
    return min(STREAM_WAIT, timeout)


async def listen(
    session: McpHttpSession, answered: anyio.Event | None = None, wait: float = STREAM_WAIT
) -> None:
    """The session's own event stream (a GET), as the SDK client opens one once a 2025 session is
    initialized: the server's requests on it answered (where ``answer_in`` puts them, when given),
    its notifications given to the session's ``on_notification``.  ``answered`` is set once the
    server answered the GET (its status and headers: from then on the server has the stream to
    send on), refused it, or it failed; or ``wait`` seconds after it was asked, so a stream never
    answered holds the calls that wait for it once, not each; or at once when there is no stream
    to open.  Returns when the server ends or refuses it; cancel to stop."""
    try:
        async with anyio.create_task_group() as waiting:
            if answered is not None:
                waiting.start_soon(_set_after, answered, wait)
            await _listened(session, answered)
            waiting.cancel_scope.cancel()
    finally:
        if answered is not None:
            answered.set()


async def _set_after(event: anyio.Event, seconds: float) -> None:
    await anyio.sleep(seconds)
    event.set()


async def _listened(session: McpHttpSession, answered: anyio.Event | None) -> None:
    headers = session._headers
    if headers is None or "Mcp-Session-Id" not in headers:
        return
    get = {**headers, "Accept": "text/event-stream"}
    timeout = httpx2.Timeout(30.0, read=None)  # the stream stays open, idle, between messages
    async with session._http.stream(
        "GET", session._url, headers=get, auth=session._auth, timeout=timeout
    ) as got:
        if answered is not None:
            answered.set()
        if got.status_code != 200:
            return
        from vertex_stdio.mcpio.mcp_http import _maybe_object

        async for data in event_data(got, Resume()):
            message = _maybe_object(data.encode()) if data else None
            if message is None or "method" not in message:
                continue
            if "id" in message and session._answer_in is not None:  # beside the stream, as mid-call
                session._answer_in(functools.partial(session._answer, message, headers))
            elif "id" in message:
                await session._answer(message, headers)
            else:
                session._cancelled(message)  # a request of its own it gives up: its answer stopped
                if session._on_notification is not None:
                    await session._on_notification(message)
