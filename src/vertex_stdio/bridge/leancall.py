"""``connect``'s lean call path (``mcpio.leancalls``): a plain ``tools/call`` sent without the SDK.

On the link's path a call costs the SDK's server (a model of every message, a task group per
request) and its client (a dispatcher, a task per request, streams) around one POST.  Here the
plain ones (``LeanGate``: no ``_meta``, so no progress token) go as one POST on the session the
link's SDK client opened (``RemoteLink.joined``: its HTTP client -- the same bearer, caps,
headers -- and its session headers), with ids of their own.  The answer is the link path's, byte
for byte (tests/bridge/test_connect_lean_calls.py): the remote's result as it wrote it, its
JSON-RPC error as the SDK passes it on, and every failure given to ``RemoteLink.failure`` as the
SDK would have raised it, so it is worded, and the connection dropped, as there.

What only the link path does, it keeps (``prepare`` says None, before anything is sent): no
cached lists yet, a tool not served (``--tools``), the sign-in tool, no local session yet, no
open connection.  A call that went out and failed in a way the link path
would send again or sign in for -- a read-only call whose connection failed, a refusal (401,
403) of a request nothing was authorised for -- goes to the SDK path whole; one not read-only is
never sent twice: its broken connection is ``outcome: unknown``, as on the link path.  A session
the remote forgot (a 404 to its id: ``SessionEnded``; the link drops it) is worded as there: a
read-only call is sent once more on a new session, one that is not is ``outcome: refused``.
The remote's notifications mid-call go where the link's go (``Proxy.from_remote``); its requests
mid-call are answered by the SDK client's own handler (``Joined.answer``): relayed to the local
client for what it declared (``relay.LocalPeer``, as on the link path), the SDK's answers for
the rest, each from the SDK client's task group, so the call's stream is read on meanwhile (a
``notifications/cancelled`` of the request stops it unanswered) and an answer outlives the call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
from mcp import MCPError
from mcp.types import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from mcp.types import REQUEST_TIMEOUT as TIMED_OUT
from mcp_types import server_notification_adapter
from pydantic import ValidationError

from vertex_stdio.bridge.athand import AtHand
from vertex_stdio.bridge.edge import SessionEnded, Tokens
from vertex_stdio.bridge.link import Joined, RemoteLink
from vertex_stdio.bridge.wire import tool_error
from vertex_stdio.core.calls import AnswerTooLarge, CallRecord, recording
from vertex_stdio.core.errors import AuthRequired, UpstreamUnavailable, VertexError
from vertex_stdio.mcpio.leancalls import LeanError, Prepared, Result
from vertex_stdio.mcpio.mcp_http import (
    Accepted,
    AnswerLost,
    HttpStatus,
    McpHttpError,
    McpHttpSession,
    Message,
    RpcError,
    SessionLost,
    UnexpectedType,
    rpc_error,
)
from vertex_stdio.mcpio.mcp_open import abandoned, stream_wait

log = logging.getLogger(__name__)

ID_PREFIX = "vertex-stdio-"  # the link's SDK client numbers its requests 0, 1, 2...: never these


class LeanLink:
    """``mcpio.leancalls.ToolCalls`` for ``connect``: the proxy says what it serves."""

    def __init__(
        self,
        link: Callable[[], RemoteLink],
        url: str,
        served: Callable[[str], bool | None],
        worded: Callable[[VertexError], VertexError],
        notified: Callable[[Any], Awaitable[None]],
        tokens: Tokens,
        *,
        timeout: float,
    ) -> None:
        self._link, self._url, self._served = link, url, served
        self._auth = AtHand(tokens)
        self._worded, self._notified, self._timeout = worded, notified, timeout
        self._session: tuple[Joined, McpHttpSession] | None = None

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        read_only = self._served(name)
        if read_only is None:
            return None
        return lambda: self._call(name, arguments, read_only)

    def _joined(self) -> tuple[Joined, McpHttpSession] | None:
        """The session the link's SDK client opened, for our POSTs (None: none is open to join)."""
        joined = self._link().joined()
        if joined is None:
            return None
        if self._session is None or self._session[0] != joined:
            session = McpHttpSession(
                self._url,
                joined.http,
                joined=joined.headers,
                id_prefix=ID_PREFIX,
                on_notification=self._notification,
                on_request=joined.answer,
                answer_in=joined.answer_in,
                auth=self._auth,
                # the call's own deadline (``_attempt``) acts first, as the SDK client's does there
                timeout=httpx2.Timeout(self._timeout + 5.0, connect=min(10.0, self._timeout)),
            )
            self._session = (joined, session)
        return self._session

    async def _call(self, name: str, arguments: dict[str, Any], read_only: bool) -> Result | None:
        """The call's result as the link path gives it, or None: the SDK path runs it."""
        for attempt in (1, 2):
            found = self._joined()
            if found is None:  # (re)connect with what is at hand, as the link path does
                try:
                    await self._link().session(interactive=False)
                except VertexError as error:
                    if attempt == 1 or isinstance(error, AuthRequired):
                        return None  # the SDK path connects (or signs in) and words what fails
                    return tool_error(self._worded(error))
                found = self._joined()
            if found is None:
                return None
            outcome = await self._attempt(*found, name, arguments, read_only)
            if not isinstance(outcome, VertexError):
                return outcome
            failure = outcome
            if not (attempt == 1 and read_only and isinstance(failure, UpstreamUnavailable)):
                break
            what = "ended the session" if isinstance(failure, SessionEnded) else "dropped the connection"
            log.info("%s: the remote %s; sending it once more on a new one", name, what)
        if _signs_in(failure):
            log.debug("%s: left to the SDK path after %s", name, failure.code)
            return None
        log.info("%s failed: %s", name, failure.code)
        return tool_error(self._worded(failure))

    async def _attempt(
        self, joined: Joined, session: McpHttpSession, name: str, arguments: dict[str, Any], read_only: bool
    ) -> Result | VertexError | None:
        """One POST: the result, or the failure as the link words it (None: the SDK path runs it)."""
        params, headers = joined.message("tools/call", {"name": name, "arguments": arguments})
        # no sign-in here (the SDK path signs in); a failure drops only the link's connection it went on
        call = CallRecord(interactive=False, replay=read_only, sent_on=joined.client)
        id_ = session.next_id()
        # the remote's requests mid-call have somewhere to go
        await joined.listened(stream_wait(self._timeout))
        with recording(call):
            try:
                with anyio.fail_after(self._timeout):
                    raw = await session.request("tools/call", params, headers, id_=id_)
                return joined.result("tools/call", raw)
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    await abandoned(session, id_, "caller cancelled", headers)
                raise
            except Exception as exc:  # noqa: BLE001 - each is worded by the link, as on its path
                if isinstance(exc, TimeoutError):
                    await abandoned(session, id_, f"timed out after {self._timeout}s", headers)
                if call.status in (401, 403) and call.refused is None:
                    return None  # refused before it could act: the SDK path renews (or signs in), sends
                failure = await self._link().failure(_as_sdk(exc, self._timeout, call), call)
        if isinstance(failure, MCPError):
            raise LeanError(failure.error.model_dump(by_alias=True, mode="json", exclude_unset=True))
        if not isinstance(failure, VertexError):
            log.warning("%s: a lean call failed unexpectedly (%s)", name, type(failure).__name__)
            return UpstreamUnavailable(f"The call failed ({type(failure).__name__}). Try again.")
        return failure

    async def relay(self, message: Message) -> None:
        """The remote's notification, passed where the link's go (``earlyjudge``'s too)."""
        await self._notification(message)

    async def _notification(self, message: Message) -> None:
        try:
            notification = server_notification_adapter.validate_python(
                {k: v for k, v in message.items() if k != "jsonrpc"}
            )
        except ValidationError:
            log.debug("the remote sent a notification that is not MCP; dropped")
            return
        await self._notified(notification)


def _signs_in(failure: VertexError) -> bool:
    """Whether the link path would sign in for the call (no token at hand): the SDK path runs it."""
    return isinstance(failure, AuthRequired)


def _as_sdk(exc: Exception, timeout: float, call: CallRecord) -> Exception:
    """``exc`` as the SDK client raises it for the same answer (``streamable_http_client``)."""
    if isinstance(exc, httpx2.TransportError) and exc is not call.failure:
        # Broken while its answer was read (the edge notes only what breaks before): the SDK's
        # transport task ends with it, and the request fails as its connection closed.
        return MCPError(CONNECTION_CLOSED, "Connection closed")
    if isinstance(exc, TimeoutError):
        return MCPError(TIMED_OUT, f"Timed out while waiting for response. Waited {timeout} seconds.")
    if isinstance(exc, RpcError):  # as the SDK client raises it: a "data": null is no data
        return MCPError(exc.code, exc.message, exc.error.get("data"))
    if isinstance(exc, AnswerTooLarge):  # the SDK's read fails; the record says why
        return MCPError(PARSE_ERROR, f"Failed to parse JSON response: {exc}")
    if isinstance(exc, SessionLost):
        return MCPError(INVALID_REQUEST, "Session terminated")
    if isinstance(exc, HttpStatus):
        try:
            carried = rpc_error(exc.body) if exc.body is not None else None
        except McpHttpError:
            carried = None
        if carried is not None:  # a JSON-RPC error at an HTTP error status: the SDK passes it on
            return _as_sdk(carried, timeout, call)
        if exc.status == 404:  # with no session: the HTTP spelling of "method not found"
            return MCPError(METHOD_NOT_FOUND, "Not Found")
        return MCPError(INTERNAL_ERROR, "Server returned an error response")
    if isinstance(exc, Accepted):
        return MCPError(INVALID_REQUEST, "server answered a request with 202 Accepted")
    if isinstance(exc, UnexpectedType):
        return MCPError(INVALID_REQUEST, str(exc))
    if isinstance(exc, AnswerLost):
        return MCPError(CONNECTION_CLOSED, "SSE stream ended without a response")
    if isinstance(exc, McpHttpError):
        return MCPError(PARSE_ERROR, f"Failed to parse JSON response: {exc}")
    return exc
