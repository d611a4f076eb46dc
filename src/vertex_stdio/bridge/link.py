"""The connection to the remote MCP server: the SDK's Streamable HTTP client, with our sign-in.

One connection is kept for the process; a dedicated task owns the SDK ``Client`` (its context
must be entered and left in one task) and callers share it.  A dropped connection is forgotten
and the next request opens a new one; so is a session the remote forgot (restarted, expired: a
404 to its ``Mcp-Session-Id``), and the request that met the 404 was not run: a read-only one is
sent once more on the new session, one that is not gets ``SessionEnded`` (``outcome: refused``,
retryable).  Requests go out as the caller's JSON (method + params) and come back as the
remote's JSON result, never rebuilt into models here.

The SDK client negotiates the protocol era (``server/discover``, else ``initialize``), so the
remote may speak any version the SDK client supports; on a 2026-07-28 connection the remote's
list changes arrive on a ``subscriptions/listen`` stream, earlier ones as notifications.

Sign-in: every request goes out with the token already at hand, or with none when there is no
sign-in yet (a server that never answers 401 is served without one; one that does says in its
``WWW-Authenticate`` where its metadata is and what scope to ask for).  A request made for the
person (``interactive``) may then run the browser sign-in; one made in the background (refreshing
the cached lists) only renews silently.  A 401 or a 403 ``insufficient_scope`` to a token is told
to the token provider, which renews (refresh, step-up or a new sign-in) and the request is sent
once more, as for VertexSMS -- except a request sent with ``retry=False`` (a tool that is not
read-only) refused with 401: the remote may have acted before refusing it, so it is never sent
twice; its error carries ``outcome: unknown``.  (A 403 ``insufficient_scope`` was refused for the
token's scope, RFC 6750 §3.1: it is stepped up and sent again.)  So does such a request whose
connection failed once it went out: never "retryable", since the remote may have acted.

The upstream ``initialize`` names vertex-stdio and its version and declares what the local client
declared (``relay.LocalPeer``), whose elicitation, sampling and roots requests are relayed to it;
``headers`` (``--header``) go with every request.  A remote that refuses the Streamable HTTP POST
outright (404/405 while the connection opens) is a 2024-11-05 server: the link then speaks the
HTTP+SSE transport to it (GET the event stream, POST to the endpoint it names).  Each
connection's HTTP client and SDK transport are built by ``opening.py``.

Bounds: every answer (a JSON body, or one event of a stream) is read only up to ``max_answer``
bytes; a larger one fails that request with ``UPSTREAM_ERROR`` and is never held in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, MCPError
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.dispatcher import ProgressFnT as Progress
from mcp.shared.subscriptions import event_to_notification
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, Implementation
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError

from vertex_stdio import __version__
from vertex_stdio.bridge.edge import (
    SessionEnded,
    Tokens,
    failure_of,
    first_of,
    refused_after_renewal,
    session_ended,
)
from vertex_stdio.bridge.joined import Joined, RawRequest, SessionNote
from vertex_stdio.bridge.opening import Opening, Session, describe
from vertex_stdio.bridge.relay import LocalPeer
from vertex_stdio.core.calls import MAX_ANSWER_BYTES, CallRecord, current, recording
from vertex_stdio.core.credentials import SignInPrompt
from vertex_stdio.core.errors import (
    AuthInvalid,
    AuthRequired,
    UpstreamError,
    UpstreamUnavailable,
    VertexError,
)
from vertex_stdio.core.redact import clip
from vertex_stdio.mcpio.mcp_open import stream_wait

__all__ = ["Joined", "RemoteLink", "Session", "Tokens"]

log = logging.getLogger(__name__)

Notify = Callable[[Any], Awaitable[None]]
_RAW = TypeAdapter(dict[str, Any])
RELAY_GRACE = 2.0  # seconds a notification's relay may go on once its connection is closing


class RemoteLink:
    """Forwards requests to the remote MCP server over one kept connection."""

    def __init__(
        self,
        url: str,
        tokens: Tokens,
        task_group: TaskGroup,
        *,
        host: str,
        timeout: float = 30.0,
        on_notification: Notify | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_answer: int = MAX_ANSWER_BYTES,
        local: LocalPeer | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._opening = Opening(url, tokens, timeout, transport, dict(headers or {}), max_answer)
        self._max_answer = max_answer
        self._host = host
        self._tg = task_group
        self._timeout = timeout
        self._notify = on_notification
        self._local = local
        self._legacy = False
        self._session: Session | None = None
        self._closed: anyio.Event | None = None
        self._lock = anyio.Lock()
        # the open connection's HTTP client and session headers (``joined``)
        self._joining: httpx2.AsyncClient | None = None
        self._noted = SessionNote()
        self._before: list[tuple[str, dict[str, Any]]] = []  # calls that went out once already

    async def session(self, *, interactive: bool, prompt: SignInPrompt | None = None) -> Session:
        """The open connection (opening it, signing in first when ``interactive`` allows)."""
        with recording(CallRecord(prompt=prompt, interactive=interactive)) as call:
            session: Session = await self._guarded(self._connected, call)
            return session

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        *,
        interactive: bool,
        prompt: SignInPrompt | None = None,
        progress: Progress | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Send ``method`` with ``params`` as given; the remote's result as it wrote it.

        A JSON-RPC error from the remote is raised as that ``MCPError``; our own failures are
        ``VertexError``.  With ``retry``, a dropped connection is reopened once and a refused
        sign-in renewed once; without it, the request, once it went out, is never sent again.
        """
        # Until the request itself goes (opening the connection), a refusal may be answered again.
        call = CallRecord(prompt=prompt, interactive=interactive, replay=retry, sending=False)
        refused: AuthInvalid | None = None
        once = self._sent_before(method, params or {})
        with recording(call):
            for attempt in (1, 2):
                try:
                    result: dict[str, Any] = await self._guarded(
                        lambda: self._send(method, params, progress, call), call
                    )
                    return result
                except UpstreamUnavailable as exc:
                    if attempt == 2 or not retry or once:
                        raise
                    what = "ended the session" if isinstance(exc, SessionEnded) else "dropped the connection"
                    log.info("%s: %s %s; sending it once more on a new one", method, self._host, what)
                    call.forget_answer()
                except AuthInvalid as exc:
                    # Refused (401) even after renewing, e.g. while another request was renewing
                    # the same token: sign in (again) and send it once more -- unless it went out.
                    if attempt == 2 or not interactive or call.refused is not None:
                        raise
                    log.info("%s: %s refused the token; renewing the sign-in once", method, self._host)
                    refused = exc
                    call.forget_answer()
                except AuthRequired as exc:
                    if refused is None:
                        raise
                    raise refused_after_renewal(refused, exc, call) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def sent_before(self, name: str, arguments: Mapping[str, Any]) -> None:
        """The next call of tool ``name`` with ``arguments`` went out once already (connect's first
        call, ``bridge/earlyjudge.py``): a read is not sent again after its connection fails."""
        self._before.append((name, dict(arguments)))

    def _sent_before(self, method: str, params: Mapping[str, Any]) -> bool:
        key = (params.get("name"), params.get("arguments"))
        if method != "tools/call" or key not in self._before:
            return False
        self._before.remove(key)
        return True

    async def _send(
        self, method: str, params: Mapping[str, Any] | None, progress: Progress | None, call: CallRecord
    ) -> dict[str, Any]:
        session = await self._connected()
        joined = self.joined()
        if joined is not None:  # a connection just opened: the remote's requests mid-call need its stream
            await joined.listened(stream_wait(self._timeout))
        call.sending, call.sent_on = True, session.client
        message = RawRequest(method=method, params=dict(params or {}) or None)
        # A TypeAdapter of dict takes the result as the remote wrote it (the SDK accepts any adapter).
        raw: dict[str, Any] = await session.client.session.send_request(
            message, cast(Any, _RAW), request_read_timeout_seconds=self._timeout, progress_callback=progress
        )
        return raw

    async def _guarded(self, step: Callable[[], Awaitable[Any]], call: CallRecord | None) -> Any:
        """Run ``step``; translate what the SDK and HTTP raise into the contract's errors."""
        try:
            return await step()
        except VertexError:
            raise
        except Exception as exc:
            failure = await self.failure(exc, call)
            if failure is exc:
                raise
            raise failure from exc

    async def failure(self, exc: Exception, call: CallRecord | None, *, drop: bool = True) -> Exception:
        """What a request's failure ``exc`` is to its caller: the remote's own JSON-RPC error (an
        ``MCPError``) as it is, else the contract's error; a broken connection is dropped first
        (the one the request went on, ``call.sent_on``; unless ``drop`` is False: connect's first
        calls failed on a connection of their own, ``bridge/earlyjudge.py``).  The lean calls
        (``bridge/leancall.py``) give theirs here too, as the SDK would raise them."""
        if isinstance(exc, MCPError):
            if call is not None and call.oversized:  # that answer was cut; the connection is fine
                return failure_of(self._host, self._max_answer, call, exc)
            answered = exc.error.code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT)
            if answered and call is not None and call.ended is not None and call.status == 404:
                await self._drop(call.ended)  # the remote forgot the session: this 404 was the answer
                return session_ended(self._host, call)
            noted = call is not None and (call.failure or call.status in (401, 403) or call.auth_error)
            if answered and not noted:
                log.info(
                    "%s answered JSON-RPC error %s (%s)",
                    self._host,
                    exc.error.code,
                    clip(exc.error.message, 100),
                )
                return exc  # the remote's own JSON-RPC error: passed back as it wrote it
        elif isinstance(exc, ValidationError):  # the SDK checks the remote's results against the protocol
            return UpstreamError(
                f"{self._host} answered with something that is not valid MCP "
                f"({exc.error_count()} problems), so it was not used. Try again later."
            )
        elif not isinstance(
            exc,
            httpx2.HTTPError
            | anyio.BrokenResourceError
            | anyio.ClosedResourceError
            | OSError
            | ExceptionGroup,
        ):
            return exc
        if drop and call is not None and call.sent_on is not None:
            await self._drop(on=call.sent_on)
        if isinstance(exc, ExceptionGroup):
            auth = exc.subgroup(AuthRequired)
            if auth is not None:
                return cast(Exception, first_of(auth))
            exc = cast(Exception, first_of(exc))
        return failure_of(self._host, self._max_answer, call, exc)

    async def _connected(self) -> Session:
        async with self._lock:
            if self._session is None:
                try:
                    self._session = await self._tg.start(self._own_connection)
                except Exception:
                    call = current()
                    if self._legacy or call is None or call.status not in (404, 405):
                        raise
                    # The Streamable HTTP POST was refused outright: a 2024-11-05 server (HTTP+SSE).
                    log.info(
                        "%s refused the Streamable HTTP POST (%s); using HTTP+SSE", self._host, call.status
                    )
                    self._legacy = True
                    call.forget_answer()
                    self._session = await self._tg.start(self._own_connection)
            return self._session

    @property
    def opened(self) -> Client | None:  # the open connection's SDK client (None: none; opens none)
        return self._session.client if self._session is not None else None

    def joined(self) -> Joined | None:
        """The open Streamable HTTP connection, for requests sent beside the SDK client on its
        session (``bridge/leancall.py``); None while none is open or past its opening."""
        noted = self._noted.headers
        if self._joining is None or noted is None or self._session is None:
            return None
        return Joined(self._joining, noted, self._session.client, self._noted.streamed)

    async def _own_connection(self, *, task_status: TaskStatus[Session]) -> None:
        closed = anyio.Event()
        transport, http = self._opening.stream(legacy=self._legacy, noted=self._noted)
        callbacks = self._local.callbacks() if self._local is not None else {}
        client = Client(
            transport,
            message_handler=self._incoming,
            client_info=Implementation(name="vertex-stdio", version=__version__),
            **callbacks,
            read_timeout_seconds=self._timeout,
            cache=None,
        )
        started = False
        try:
            with anyio.CancelScope() as scope:
                async with http, client, anyio.create_task_group() as listening:
                    self._closed = closed
                    if isinstance(http, httpx2.AsyncClient):
                        self._joining = http
                    task_status.started(describe(client))
                    started = True
                    if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                        listening.start_soon(self._listen, client)
                    await closed.wait()
                    listening.cancel_scope.cancel()
                    scope.deadline = anyio.current_time() + 2.0  # bound the goodbye (DELETE)
        except Exception as exc:
            # This task lives in the server's task group: a dropped socket must end only the
            # connection, never the server.  The request using it gets its own error.
            if not started:
                raise
            log.warning("the connection to %s ended (%s)", self._host, type(exc).__name__)
        finally:
            if self._closed is closed:
                self._session, self._closed, self._joining = None, None, None

    async def _listen(self, client: Client) -> None:
        """On a 2026-07-28 connection list changes come on a ``subscriptions/listen`` stream."""
        try:
            async with client.listen(
                tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
            ) as events:
                async for event in events:
                    await self._incoming(event_to_notification(event, {}))
        except (MCPError, SubscriptionLost, TimeoutError, httpx2.HTTPError, OSError) as exc:
            log.info("%s sends no change notifications (%s)", self._host, type(exc).__name__)

    async def _incoming(self, message: Any) -> None:
        if isinstance(message, Exception):
            log.debug("remote transport: %s", type(message).__name__)
            return
        if self._notify is not None:
            # The SDK runs this in its client's task group, which a drop cancels: a notification the
            # remote sent before a failure would be lost when the failure drops the connection first.
            with anyio.move_on_after(RELAY_GRACE, shield=True):
                await self._notify(message)

    async def _drop(self, ended: str | None = None, on: object | None = None) -> None:
        """Close the open connection: with ``on`` (an SDK client), only while that one is open, so
        a failure never closes the one another request just opened.  With ``ended`` (a session the
        remote forgot), only while it is on that session, and once its requests in flight had time
        to meet their own 404 (``timeout``): closed at once, they would fail as dropped."""
        async with self._lock:
            if (ended is not None and not self._noted.on(ended)) or (
                on is not None and self.opened is not on
            ):
                return
            if self._closed is not None and ended is not None:
                self._tg.start_soon(_set_after, self._closed, self._timeout)
            elif self._closed is not None:
                self._closed.set()
            self._session, self._closed, self._joining = None, None, None

    async def aclose(self) -> None:
        """Close the kept connection (at shutdown)."""
        await self._drop()


async def _set_after(event: anyio.Event, seconds: float) -> None:
    await anyio.sleep(seconds)
    event.set()
