"""The connection to the remote MCP server: the SDK's Streamable HTTP client, with our sign-in.

One connection is kept for the process; a dedicated task owns the SDK ``Client`` (its context
must be entered and left in one task) and callers share it.  A dropped connection is forgotten
and the next request opens a new one.  Requests go out as the caller's JSON (method + params)
and come back as the remote's JSON result, never rebuilt into models here.

The SDK client negotiates the protocol era (``server/discover``, else ``initialize``), so the
remote may speak any version the SDK client supports; on a 2026-07-28 connection the remote's
list changes arrive on a ``subscriptions/listen`` stream, earlier ones as notifications.

Sign-in: a request made for the person (``interactive``) may run the browser sign-in; one made
in the background (refreshing the cached lists) uses only a token already at hand.  A 401 or a
403 ``insufficient_scope`` is told to the token provider, which renews (refresh, step-up or a
new sign-in) and the request is sent once more, as for VertexSMS.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.dispatcher import ProgressFnT as Progress
from mcp.shared.subscriptions import event_to_notification
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, Request
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter

from vertex_stdio import __version__
from vertex_stdio.core.credentials import Challenge, SignInPrompt, parse_challenge
from vertex_stdio.core.errors import (
    AuthInvalid,
    AuthRequired,
    InsufficientScope,
    UpstreamUnavailable,
    VertexError,
)
from vertex_stdio.core.http import pool_limits, pooled_transport

log = logging.getLogger(__name__)

Notify = Callable[[Any], Awaitable[None]]
_RAW = TypeAdapter(dict[str, Any])
_RawRequest = Request[dict[str, Any] | None, str]
"""A request whose params are sent as given (an unparameterised ``Request`` would drop them)."""


class Tokens(Protocol):
    """What the link needs from the sign-in (``OAuthTokenProvider`` provides it)."""

    async def token(self, scopes: list[str], prompt: SignInPrompt | None = None) -> str: ...

    async def silent_token(self) -> str | None: ...

    async def rejected(self, token: str, challenge: Challenge) -> bool: ...


@dataclass
class _Call:
    """How the current request may get a token, and what HTTP said while it ran."""

    interactive: bool
    prompt: SignInPrompt | None = None
    status: int | None = None
    challenge: Challenge | None = None
    failure: Exception | None = None
    auth_error: AuthRequired | None = None


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "vertex_stdio_connect_call", default=None
)


class _Bearer(httpx2.Auth):
    """``Authorization: Bearer`` from the sign-in; after a 401/403 the provider renews once."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    async def _get(self, call: _Call | None) -> str | None:
        """A token for this request; None (noted on ``call``) when none can be had now.

        Never raises: an exception here would surface from deep inside the SDK's transport.
        """
        try:
            if call is not None and call.interactive:
                return await self._tokens.token([], call.prompt)
            return await self._tokens.silent_token()
        except AuthRequired as exc:
            if call is not None:
                call.auth_error = exc
            return None

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        call = _CALL.get()
        token = await self._get(call)
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if token is None or response.status_code not in (401, 403):
            return
        challenge = parse_challenge(response.headers.get("www-authenticate"))
        if call is not None:
            call.status, call.challenge = response.status_code, challenge
        if response.status_code == 403 and challenge.error != "insufficient_scope":
            return
        # Told even when another request already reported this token (then it renews nothing):
        # what counts is whether a different token is at hand now.
        await self._tokens.rejected(token, challenge)
        fresh = await self._get(call)
        if fresh is None or fresh == token:
            return
        request.headers["Authorization"] = f"Bearer {fresh}"
        if call is not None:
            call.status = None
        yield request

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the remote MCP client is async only")


class _Noting(httpx2.AsyncBaseTransport):
    """Notes transport failures for the current request (the SDK folds them into generic errors)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            call = _CALL.get()
            if call is not None:
                call.failure = exc
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class Session:
    """What the remote said about itself when the connection opened."""

    client: Client
    capabilities: dict[str, Any]
    server_info: dict[str, Any]
    instructions: str | None


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
    ) -> None:
        self._url = url
        self._host = host
        self._tokens = tokens
        self._tg = task_group
        self._timeout = timeout
        self._notify = on_notification
        self._transport = transport
        self._session: Session | None = None
        self._closed: anyio.Event | None = None
        self._lock = anyio.Lock()

    async def session(self, *, interactive: bool, prompt: SignInPrompt | None = None) -> Session:
        """The open connection (opening it, signing in first when ``interactive`` allows)."""
        call = _Call(interactive, prompt)
        reset = _CALL.set(call)
        try:
            await self._signed_in(call)
            session: Session = await self._guarded(self._connected, call)
            return session
        finally:
            _CALL.reset(reset)

    async def _signed_in(self, call: _Call) -> None:
        """Get the token before the SDK sends anything (a sign-in runs here, not in the transport)."""
        if call.interactive:
            await self._tokens.token([], call.prompt)
        elif await self._tokens.silent_token() is None:
            raise AuthRequired(f"You are not signed in to {self._host}.")

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
        ``VertexError``.  With ``retry``, a dropped connection is reopened once.
        """
        call = _Call(interactive, prompt)
        reset = _CALL.set(call)
        try:
            for attempt in (1, 2):
                try:
                    await self._signed_in(call)
                    result: dict[str, Any] = await self._guarded(
                        lambda: self._send(method, params, progress), call
                    )
                    return result
                except UpstreamUnavailable:
                    if attempt == 2 or not retry:
                        raise
                    log.info("%s: the connection to %s dropped; reconnecting once", method, self._host)
                    call.failure = None
                except AuthInvalid:
                    # Refused (401) even after renewing, e.g. while another request was renewing
                    # the same token: the remote did nothing, so sign in (again) and send it once more.
                    if attempt == 2 or not interactive:
                        raise
                    log.info("%s: %s refused the token; renewing the sign-in once", method, self._host)
                    call.status = call.challenge = None
        finally:
            _CALL.reset(reset)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, method: str, params: Mapping[str, Any] | None, progress: Progress | None
    ) -> dict[str, Any]:
        session = await self._connected()
        message = _RawRequest(method=method, params=dict(params or {}) or None)
        # A TypeAdapter of dict takes the result as the remote wrote it (the SDK accepts any adapter).
        raw: dict[str, Any] = await session.client.session.send_request(
            message, cast(Any, _RAW), request_read_timeout_seconds=self._timeout, progress_callback=progress
        )
        return raw

    async def _guarded(self, step: Callable[[], Awaitable[Any]], call: _Call | None) -> Any:
        """Run ``step``; translate what the SDK and HTTP raise into the contract's errors."""
        try:
            return await step()
        except VertexError:
            raise
        except MCPError as exc:
            noted = call is not None and (call.failure or call.status or call.auth_error)
            if exc.error.code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT) and not noted:
                log.info(
                    "%s answered JSON-RPC error %s (%s)", self._host, exc.error.code, exc.error.message[:100]
                )
                raise  # the remote's own JSON-RPC error: passed back as it wrote it
            await self._drop()
            raise self._ours(call, exc) from exc
        except (httpx2.HTTPError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            await self._drop()
            raise self._ours(call, exc) from exc
        except ExceptionGroup as group:
            await self._drop()
            auth = group.subgroup(AuthRequired)
            if auth is not None:
                raise _first(auth) from group
            raise self._ours(call, _first(group)) from group

    def _ours(self, call: _Call | None, exc: BaseException) -> VertexError:
        host = self._host
        if call is not None and call.auth_error is not None:
            return call.auth_error
        if call is not None and call.status == 401:
            return AuthInvalid(f"{host} did not accept the sign-in (HTTP 401).")
        if call is not None and call.status == 403:
            if call.challenge is not None and call.challenge.error == "insufficient_scope":
                return InsufficientScope(f"{host} needs more permissions than were granted (HTTP 403).")
            return AuthInvalid(f"{host} refused the request (HTTP 403).")
        if isinstance(exc, MCPError) and exc.error.code == REQUEST_TIMEOUT:
            return UpstreamUnavailable(f"{host} did not answer in time. Try again.")
        failure = (call.failure if call is not None else None) or exc
        return UpstreamUnavailable(
            f"Could not reach {host} ({type(failure).__name__}). Check your network and try again."
        )

    async def _connected(self) -> Session:
        async with self._lock:
            if self._session is None:
                self._session = await self._tg.start(self._own_connection)
            return self._session

    async def _own_connection(self, *, task_status: TaskStatus[Session]) -> None:
        closed = anyio.Event()
        http = httpx2.AsyncClient(
            transport=_Noting(self._transport or pooled_transport()),
            limits=pool_limits(),  # for a proxy's transport, built from the environment
            auth=_Bearer(self._tokens),
            timeout=httpx2.Timeout(self._timeout, connect=min(10.0, self._timeout)),
            headers={"User-Agent": f"vertex-stdio/{__version__}"},
        )
        client = Client(
            streamable_http_client(self._url, http_client=http),
            message_handler=self._incoming,
            read_timeout_seconds=self._timeout,
            cache=None,
        )
        started = False
        try:
            with anyio.CancelScope() as scope:
                async with http, client, anyio.create_task_group() as listening:
                    self._closed = closed
                    task_status.started(_describe(client))
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
                self._session, self._closed = None, None

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
            await self._notify(message)

    async def _drop(self) -> None:
        async with self._lock:
            if self._closed is not None:
                self._closed.set()
            self._session, self._closed = None, None

    async def aclose(self) -> None:
        """Close the kept connection (at shutdown)."""
        await self._drop()


def _describe(client: Client) -> Session:
    info = client.server_info
    return Session(
        client=client,
        capabilities=client.server_capabilities.model_dump(by_alias=True, mode="json", exclude_none=True),
        server_info=info.model_dump(by_alias=True, mode="json", exclude_none=True) if info else {},
        instructions=client.instructions,
    )


def _first(group: BaseException) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group
