"""An open connection of the link (``RemoteLink.joined``), for requests sent beside its SDK client.

``connect``'s lean calls (``bridge/leancall.py``) go on the session the link's SDK client opened:
its HTTP client (the same bearer, caps and headers), its session id, and the SDK client's own
steps for what a request carries (``message``: its model's JSON, stamped for the session's
protocol version) and what an answer must be (``result``: checked and trimmed as the SDK client
does).  Those steps are the SDK's own private functions, so a new SDK changes both paths alike;
tests/bridge/test_connect_lean_calls.py compares the two byte for byte.

The remote's requests mid-call (``answer``) are answered by the SDK client's own handler: its
callbacks (``relay.LocalPeer``'s, for what the local client declared; the SDK's defaults for the
rest), its check of the request against the session's version and of the callback's answer, and
its dispatcher's way of turning a failure into the JSON-RPC error it writes -- from the SDK
client's own task group (``answer_in``), so an answer outlives the call, and ends with the
connection, as the SDK client's do.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import anyio
import httpx2
from mcp import Client
from mcp.client import session as sdk_session
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp.types import (
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    Request,
    RequestId,
    jsonrpc_message_adapter,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from mcp_types.methods import validate_server_result
from pydantic import ValidationError

log = logging.getLogger(__name__)

RawRequest = Request[dict[str, Any] | None, str]
"""A request whose params are sent as given (an unparameterised ``Request`` would drop them)."""


@dataclass(frozen=True)
class Joined:
    """An open connection's HTTP client, session id header and SDK client (``RemoteLink.joined``);
    ``streamed``: set once the remote answered the SDK client's GET of the session's own stream,
    or a request waited for that its whole bound (``listened``)."""

    http: httpx2.AsyncClient
    headers: dict[str, str]
    client: Client
    streamed: anyio.Event | None = None

    async def listened(self, bound: float) -> None:
        """Wait, at most ``bound`` seconds, until a 2025 session's own event stream (the SDK client
        opens it as the session is initialized, and waits for nothing) was answered: a remote
        answering in JSON sends its requests mid-call only there, and a request sent while that
        stream is not open yet is lost (the SDK's server keeps none), so a call sent right after
        the connection opened would wait for its own answer until it timed out."""
        if self.streamed is None or "Mcp-Session-Id" not in self.headers:
            return
        if self.version in MODERN_PROTOCOL_VERSIONS:  # no GET stream: a listen request, when asked
            return
        with anyio.move_on_after(bound):
            await self.streamed.wait()
        self.streamed.set()  # waited once: a stream never answered holds no later request

    @property
    def version(self) -> str | None:
        """The protocol version the session speaks."""
        return self.client.protocol_version

    def result(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` as the SDK client's ``send_request`` gives it back (``sdk_result``)."""
        return sdk_result(method, raw, self.client.session._negotiated_version)

    def message(self, method: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The params and headers the SDK client would send ``method`` with on this session (its
        request model's JSON, stamped for the protocol version: ``_meta`` and headers of the era)."""
        data = RawRequest(method=method, params=dict(params) or None).model_dump(
            by_alias=True, mode="json", exclude_none=True
        )
        options: dict[str, Any] = {}
        self.client.session._stamp(data, cast(Any, options))  # the SDK client stamps its requests so
        return data.get("params") or {}, {**self.headers, **options.get("headers", {})}

    async def answer(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The SDK client's answer to the remote's ``request`` on this session (``sdk_answer``)."""
        return await sdk_answer(self.client.session, request)

    def answer_in(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``task`` (an ``answer``, and its delivery) where the SDK client runs its own: in its
        session's task group, so it ends with the connection (when that is gone: not at all)."""
        group = self.client.session._task_group
        if group is None:
            log.debug("the connection closed before the remote's request could be answered")
            return
        group.start_soon(task)


@dataclass(frozen=True)
class _Dispatched:
    """What the SDK client's request handler reads of its dispatcher's context: the request's id."""

    request_id: RequestId


class SessionNote:
    """The session id header of the link's newest Streamable HTTP connection (``headers``: None
    until known; ``{}`` for a connection without a session), from hooks on its HTTP client.

    Known once ``initialize`` is answered: the id the remote gave then (kept so by the SDK
    client), or, on a connection without ``initialize`` (2026-07-28), the one its later requests
    carry (none).  Only the newest connection is noted: an earlier one's late requests (its
    goodbye, a DELETE on the session the remote forgot) never are.
    """

    def __init__(self) -> None:
        self.headers: dict[str, str] | None = None
        self.streamed: anyio.Event | None = None  # the newest connection's GET was answered
        self._http: httpx2.AsyncClient | None = None

    def watch(self, http: httpx2.AsyncClient) -> None:
        """Note ``http``'s session from now on: it is the newest connection's client."""
        self.headers, self._http, self.streamed = None, http, anyio.Event()
        http.event_hooks["request"].append(partial(self._sent, http))
        http.event_hooks["response"].append(partial(self._answered, http))

    def on(self, session_id: str) -> bool:
        """Whether the newest connection is on the session ``session_id``."""
        return (self.headers or {}).get("Mcp-Session-Id") == session_id

    async def _sent(self, http: httpx2.AsyncClient, request: httpx2.Request) -> None:
        if http is self._http and "mcp-protocol-version" in request.headers:  # past its opening
            self._note(request.headers.get("mcp-session-id"))

    async def _answered(self, http: httpx2.AsyncClient, response: httpx2.Response) -> None:
        request = response.request  # ``initialize``: the one POST without a protocol version
        if http is self._http and request.method == "GET" and self.streamed is not None:
            self.streamed.set()  # answered (headers, any status): the remote has it, or refused it
        opening = request.method == "POST" and "mcp-protocol-version" not in request.headers
        if http is self._http and opening and response.is_success:
            self._note(response.headers.get("mcp-session-id"))

    def _note(self, session_id: str | None) -> None:
        noted = {"Mcp-Session-Id": session_id} if session_id is not None else {}
        if noted != self.headers:
            self.headers = noted


async def sdk_answer(session: sdk_session.ClientSession, request: Mapping[str, Any]) -> dict[str, Any] | None:
    """``session``'s answer to the remote's ``request`` (its ``result`` or ``error``, as the SDK
    client's dispatcher writes it): its own handler (``_on_request``: the request checked for the
    session's version, its callbacks, their answer checked) and its dispatcher's way of turning a
    failure into the JSON-RPC error it writes.  None for a message its transport would not take as
    a request (it answers none).  Also the early path's (``bridge/earlyrelay.py``)."""
    try:
        parsed = jsonrpc_message_adapter.validate_python(request, by_name=False)
    except ValidationError:
        parsed = None
    if not isinstance(parsed, JSONRPCRequest):
        log.debug("the remote sent a request that is not JSON-RPC; left unanswered")
        return None
    answer: JSONRPCResponse | JSONRPCError
    try:
        context = cast(Any, _Dispatched(parsed.id))
        result = await session._on_request(context, parsed.method, parsed.params)
        answer = JSONRPCResponse(jsonrpc="2.0", id=parsed.id, result=result)
    except Exception as exc:  # noqa: BLE001 - the dispatcher's one exception-to-wire boundary, as there
        error = handler_exception_to_error_data(exc)
        if error is None:
            log.warning("the answer to the remote's %s failed (%s)", parsed.method, type(exc).__name__)
            error = ErrorData(code=0, message=str(exc))  # the SDK client's dispatcher's catch-all
        answer = JSONRPCError(jsonrpc="2.0", id=parsed.id, error=error)
    # the transport posts what the dispatcher wrote as its model's JSON, so: exclude_unset
    dumped = answer.model_dump(by_alias=True, mode="json", exclude_unset=True)
    return {key: value for key, value in dumped.items() if key in ("result", "error")}


def sdk_result(method: str, raw: dict[str, Any], version: str | None) -> dict[str, Any]:
    """``raw`` as the SDK client's ``send_request`` gives it back on a session of ``version``:
    checked against it (``ValidationError``), a later revision's fields dropped (its own steps,
    so a new SDK's changes reach both paths; tests/bridge/test_connect_lean_calls.py compares)."""
    sdk_session._clamp_inbound_ttl(raw)
    version = version or "2025-11-25"
    with contextlib.suppress(KeyError):
        validate_server_result(method, version, raw)
    foreign = sdk_session._later_revision_fields(method, version)
    if not foreign.isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    return raw
