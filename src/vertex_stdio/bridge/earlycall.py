"""``connect``'s first calls, sent before the SDK is loaded (``mcpio.early`` runs them).

A person's first question used to wait for the SDK's import, the proxy's set-up and the link's
SDK client opening its session.  ``EarlyLink`` sends the plain calls the link path would
forward at once (a tool of the cached offer, served by ``--tools``/``--exclude-tools``, its
``readOnlyHint`` known) on a session of its own, opened without the SDK as the SDK's
``Client(mode="auto")`` opens one (``mcpio.mcp_era``: ``server/discover``, else
``initialize``), each request stamped as the SDK stamps it for the era, with the token of the
kept sign-in read at the first call (``AtHand``: never a sign-in, never a renewal by refusal;
a due access token is refreshed by ``silent_token``).  With ``needs_token`` (an unattended
sign-in) nothing goes out before a token is ready (``unattended_token``: kept, or the client's own
grant); with none, or its provider not made (a key that cannot be read), the call is left whole.

What comes back decides (money rule: a call that is not read-only reaches the remote at most once):

- a result of the plain shape the SDK client accepts as it is (``plain_result``) is the answer,
  byte for byte the link path's (it passes the remote's result on as written);
- anything else that came after the call went out -- a result this cannot prove valid, a
  JSON-RPC error, an HTTP status, a broken connection, a timeout -- is ``Captured`` with its
  outcome, and once the SDK is loaded the steady-state code words that same outcome
  (``bridge/earlyjudge.py``): the call is never sent twice, and the words are the link's own;
- nothing of the call sent (the opening failed or went where this does not follow the SDK), or
  a refusal before anything was authorised (401 with no token sent or to a read-only call,
  any 403), or a read-only call whose connection broke: ``Whole``, the steady state runs it (the
  read once more only: it may have reached the remote, which gets it at most twice, as from the link).

A local client that declared elicitation, sampling or roots gets the same declared upstream as
the link's SDK client declares for it (``declares``; ``earlycaps.upstream``), in both eras.  On a
2026-07-28 session the SDK client answers any request of the remote "method not found" (that
version has none from the server).  On a 2025 session the remote's ``roots/list``,
``sampling/createMessage`` and ``elicitation/create`` (mid-call, or on the session's own stream)
are answered as that client answers them: what the version has and the local client declared is
given to ``relay`` (``bridge/earlyrelay.py``, handed over by ``app/earlyconnect.py``: the SDK is
imported there, at the first such request, never here), which puts it to the local client through
the early loop's ``ask`` (``mcpio.asks``, given by ``asking``); the rest is ``unasked``.  Each answer
runs beside the calls (``_beside``), as the SDK client's do, and is cut short ("Connection
closed", as the SDK's dispatcher says it) when the session closes.  A call given up (cancelled by
the local client or the loop's end, or timed out) is told to a 2025 remote as the SDK client tells
it (``mcp_open.abandoned``: its courtesy ``notifications/cancelled``), so the remote stops it.

The session is closed when the early event loop ends (``aclose``): a 2025 session gets its
DELETE before the link's SDK client opens its own, so a stateful remote sees one session after
another, never two at once.  Nothing here imports the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from vertex_stdio import __version__
from vertex_stdio.bridge.athand import AtHand, note_ended
from vertex_stdio.core.calls import CallRecord, recording
from vertex_stdio.core.http import make_client
from vertex_stdio.mcpio import mcp_open
from vertex_stdio.mcpio.asks import Ask, LocalGone
from vertex_stdio.mcpio.leancalls import Prepared, Result
from vertex_stdio.mcpio.mcp_era import HANDSHAKE_VERSIONS, Unsure
from vertex_stdio.mcpio.mcp_http import AnswerLost, McpHttpSession, Message, SessionLost

if TYPE_CHECKING:
    from vertex_stdio.oauth import OAuthTokenProvider

log = logging.getLogger(__name__)

CLIENT_INFO = {"name": "vertex-stdio", "version": __version__}


@dataclass
class Captured:
    """A call that went out, and its outcome for the steady state to word: the result as the
    remote wrote it (``raw``) or the failure (``failure``), what HTTP said (``call``), and the
    session's version.  ``None`` for both: left whole (nothing acted), the steady state runs it --
    only once more when it reached the remote already (``sent``: a read whose connection broke)."""

    name: str
    arguments: dict[str, Any]
    version: str | None = None
    raw: dict[str, Any] | None = None
    failure: Exception | None = None
    call: CallRecord = field(default_factory=CallRecord)
    notifications: list[Message] = field(default_factory=list)  # the remote's, mid-call: relayed first
    sent: bool = False

    @property
    def whole(self) -> bool:
        return self.raw is None and self.failure is None


class EarlyLink:
    """``mcpio.leancalls.ToolCalls`` for ``connect``'s first calls (see the module's docstring).

    ``served``: the tools of the cached offer this process serves, each with whether it is
    read-only; ``tokens``: makes the token provider at the first call; ``headers``: the
    ``--header``s, sent with every request as the link sends them; ``captured``: each call
    left to the steady state, in the order its line is handed over (``Handover.replay``).
    """

    def __init__(
        self,
        url: str,
        served: dict[str, bool],
        tokens: Callable[[], OAuthTokenProvider],
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float,
        max_answer: int,
        needs_token: bool = False,
    ) -> None:
        self._url, self._served, self._make_tokens = url, served, tokens
        self._needs_token = needs_token  # an unattended sign-in: a token ready before anything goes out
        self._headers = dict(headers or {})
        self._timeout, self._max_answer = timeout, max_answer
        self._tokens: OAuthTokenProvider | None = None
        self._http: httpx2.AsyncClient | None = None
        self._session: McpHttpSession | None = None
        self._listening: asyncio.Task[None] | None = None
        self._capabilities: dict[str, Any] = {}
        self._relay: Relay | None = None
        self._ask: Ask | None = None
        self._answering: set[asyncio.Task[None]] = set()  # the remote's requests being answered
        self._unopened = False  # the opening failed once: the later calls are left whole at once
        self._opening: anyio.Lock | None = None
        self._streamed: anyio.Event | None = None  # set once the session's own stream is answered
        self.captured: list[Captured] = []

    def declares(self, capabilities: dict[str, Any] | None, relay: Relay | None = None) -> bool:
        """Declare upstream what the link's SDK client declares for the local client
        (``earlycaps.upstream``), the remote's requests for it answered by ``relay``; False when
        that is not known (None), or something is declared and nothing relays: the early path
        stays off."""
        if capabilities is None or (capabilities and relay is None):
            return False
        self._capabilities, self._relay = capabilities, relay
        return True

    def asking(self, ask: Ask) -> None:
        """The early loop's way to put a request to the local client (``mcpio.asks``)."""
        self._ask = ask

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        read_only = self._served.get(name)
        if read_only is None:
            return None
        return lambda: self._call(name, arguments, read_only)

    def _opened_session(self) -> McpHttpSession:
        if self._session is None:
            self._tokens = tokens = self._make_tokens()  # the kept sign-in, read at its first use
            auth = AtHand(tokens)
            self._http = make_client(
                timeout=self._timeout,
                auth=auth,  # the session's DELETE carries the bearer too, as the SDK client's does
                # the link's (``opening.Opening.http_client``): every early request carries ``--header``s
                headers={"User-Agent": f"vertex-stdio/{__version__}", **self._headers},
                max_answer=self._max_answer,
            )
            self._http.event_hooks["response"].append(note_ended)
            self._session = McpHttpSession(
                self._url,
                self._http,
                CLIENT_INFO,
                auth=auth,
                timeout=httpx2.Timeout(self._timeout + 5.0, connect=min(10.0, self._timeout)),
                era="auto",
                capabilities=self._capabilities,
                on_notification=_noted,
                on_request=self._asked,
                answer_in=self._beside,  # as the SDK client's: a relay outlives the call it came in
            )
        return self._session

    async def _ready(self) -> bool:
        """A token of the unattended sign-in at hand, got without a word to the remote."""
        return self._tokens is not None and await self._tokens.unattended_token() is not None

    async def _asked(self, request: Message) -> Message | None:
        """The answer to the remote's ``request``: relayed to the local client when the link's SDK
        client would relay it (the version has it, the local client declared it), else ``unasked``."""
        version = self._session.version if self._session is not None else None
        method = request.get("method")
        relayed = _CAPABILITY.get(str(method)) in self._capabilities and (method, version) in _ASKED
        if version is None or self._relay is None or not relayed:
            return unasked(request, version)
        return await self._relay(request, version, self._ask or _no_client)

    def _beside(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``task`` (an answer to the remote) beside the calls, until ``aclose``."""
        answering = asyncio.get_running_loop().create_task(task(), context=contextvars.Context())
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)

    async def _call(self, name: str, arguments: dict[str, Any], read_only: bool) -> Result | None:
        """The answer, or None: the call is ``captured`` for the steady state."""
        self._opening = self._opening or anyio.Lock()
        try:
            session = self._opened_session()
            async with self._opening:  # calls side by side: one opening, a failed one not tried again
                if self._unopened:
                    raise Unsure("the early session did not open")
                self._unopened = True
                if self._needs_token and session.version is None and not await self._ready():
                    raise Unsure("no token is ready for the unattended sign-in")
                with recording(CallRecord(interactive=False, replay=True)):  # the opening: nothing acts
                    await mcp_open.opened(session)
                self._unopened = False
            self._listen(session)
        except Exception as exc:  # noqa: BLE001 -- nothing of the call went out: the steady state runs it
            log.debug("%s: the early session did not open (%s); left whole", name, type(exc).__name__)
            return self._left(Captured(name, arguments))
        if self._streamed is not None:  # sent before it is open, the server's requests mid-call are lost
            with anyio.move_on_after(mcp_open.stream_wait(self._timeout)):
                await self._streamed.wait()
        params, headers = mcp_open.stamped(session, "tools/call", {"name": name, "arguments": arguments})
        call = CallRecord(interactive=False, replay=read_only)  # no sign-in here: the SDK path signs in
        notes: list[Message] = []
        _NOTES.set(notes)  # this call's task: the notifications on its stream are noted here
        id_ = session.next_id()
        with recording(call):
            try:
                with anyio.fail_after(self._timeout):
                    raw = await session.request("tools/call", params, headers, id_=id_)
            except anyio.get_cancelled_exc_class():  # cancelled by the local client, or the loop's end
                await self._abandoned(session, id_, "caller cancelled", headers)
                raise
            except Exception as exc:  # noqa: BLE001 -- each is worded by the steady state
                if isinstance(exc, TimeoutError):
                    await self._abandoned(session, id_, f"timed out after {self._timeout}s", headers)
                if call.status in (401, 403) and call.refused is None:
                    return self._left(Captured(name, arguments))  # refused before it could act
                if read_only and (isinstance(exc, SessionLost) or (call.status is None and _broken(exc))):
                    # read-only: sent once more there (what the remote notified on its stream relayed first)
                    return self._left(Captured(name, arguments, notifications=notes, sent=True))
                return self._left(Captured(name, arguments, session.version, None, exc, call, notes))
        if plain_result(raw, session.version) and not notes:
            return raw
        return self._left(Captured(name, arguments, session.version, raw, None, call, notes))

    @staticmethod
    async def _abandoned(
        session: McpHttpSession, id_: int | str, reason: str, headers: dict[str, str]
    ) -> None:
        """A 2025 session's remote is told a call is given up, as the SDK client tells it (its
        ``notifications/cancelled``), so it stops the call and what it asks the local client for it."""
        if not mcp_open.modern(session):
            with anyio.CancelScope(shield=True):
                await mcp_open.abandoned(session, id_, reason, headers)

    def _listen(self, session: McpHttpSession) -> None:
        """A 2025 session's own event stream, as the SDK client opens it (a server answering in JSON
        sends its requests mid-call there); in a context of its own, so what comes on it is no
        call's.  Its notifications are dropped: nothing local is there to take them yet.  The calls
        wait (bounded) until the server answered it (``_streamed``): a JSON-answering server has no
        other way to send its requests mid-call, and sends nothing on a stream not yet open."""
        if self._listening is None and not mcp_open.modern(session):
            self._streamed = anyio.Event()
            listening = mcp_open.listen(session, self._streamed, mcp_open.stream_wait(self._timeout))
            self._listening = asyncio.get_running_loop().create_task(listening, context=contextvars.Context())

    def _left(self, captured: Captured) -> Result | None:
        """None, ``captured`` kept for the steady state (its line follows in ``Handover.replay``)."""
        log.debug(
            "%s: left to the steady state (%s)",
            captured.name,
            "whole" if captured.whole else "its outcome captured",
        )
        self.captured.append(captured)
        return None

    async def aclose(self) -> None:
        """End the session (a 2025 session's DELETE, then its own stream) and close the connections
        and the provider."""
        session, http, tokens = self._session, self._http, self._tokens
        self._session = self._http = self._tokens = None
        with anyio.CancelScope(shield=True):
            for answering in list(self._answering):  # each tells the remote "Connection closed"
                answering.cancel()
            if self._answering:
                await asyncio.wait(self._answering, timeout=2.0)
            if session is not None:
                await session.close()
            if self._listening is not None:
                self._listening.cancel()
                with contextlib.suppress(BaseException):  # its end, whatever it was: nothing waits on it
                    await self._listening
            if http is not None:
                await http.aclose()
            if tokens is not None:
                await tokens.aclose()
        log.debug("the early session is closed")


# (the remote's request, the session's version, the ask) -> the link's SDK client's answer (``bridge/earlyrelay``)
Relay = Callable[[Message, str, Ask], Awaitable[Message | None]]
_CAPABILITY = {
    "roots/list": "roots",
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
}

_NOTES: contextvars.ContextVar[list[Message]] = contextvars.ContextVar("vertex_stdio_early_notes")
_NOT_SUPPORTED = {  # the SDK client's answers when the local client declared none of these
    "sampling/createMessage": "Sampling not supported",
    "elicitation/create": "Elicitation not supported",
    "roots/list": "List roots not supported",
}
# (method, version) the SDK client knows as a server's request (``mcp_types.methods.SERVER_REQUESTS``)
_ASKED = {
    *((m, v) for m in ("ping", "roots/list", "sampling/createMessage") for v in HANDSHAKE_VERSIONS),
    ("elicitation/create", "2025-06-18"),
    ("elicitation/create", "2025-11-25"),
}


async def _no_client(request: dict[str, Any]) -> dict[str, Any]:
    """No early loop gave its ask: as if the local client were gone."""
    raise LocalGone("no early loop to ask")


async def _noted(message: Message) -> None:
    """A notification on a call's stream, noted for that call (``Captured.notifications``)."""
    _NOTES.get([]).append(message)


def unasked(request: Message, version: str | None) -> Message:
    """What the SDK client declaring nothing answers the remote's ``request`` on a session of
    ``version``: "method not found" for what the version does not have, ``ping`` answered, the
    rest "not supported" (the SDK client's own, ``Joined.answer``) -- or, first, "invalid params" for
    params its model would refuse (checked here for the fields a server cannot leave out)."""
    method = request.get("method")
    if version is None or (method, version) not in _ASKED:
        return {"error": {"code": -32601, "message": "Method not found", "data": method}}
    if not _valid_params(str(method), request.get("params")):
        return {"error": {"code": -32602, "message": "Invalid request parameters", "data": ""}}
    if method == "ping":
        return {"result": {}}
    return {"error": {"code": -32600, "message": _NOT_SUPPORTED.get(str(method), "Method not found")}}


def _valid_params(method: str, params: Any) -> bool:
    if params is None:
        return method in ("ping", "roots/list")
    if not isinstance(params, dict) or not isinstance(params.get("_meta", {}), dict):
        return False
    if method == "sampling/createMessage":
        tokens = params.get("maxTokens")
        return isinstance(params.get("messages"), list) and type(tokens) is int
    if method == "elicitation/create":
        return isinstance(params.get("message"), str)
    return True


def _broken(exc: BaseException) -> bool:
    """A connection broken or a call timed out with no HTTP answer: the link path sends a
    read-only call again after those."""
    return isinstance(exc, httpx2.TransportError | OSError | TimeoutError | AnswerLost)


_TEXT = frozenset({"type", "text"})


def plain_result(raw: dict[str, Any], version: str | None) -> bool:
    """Whether the SDK client takes ``raw`` as it is for ``version`` (conservatively: text blocks
    only, nothing a later revision declares): then ``Joined.result`` -- the SDK's
    ``_clamp_inbound_ttl``, ``validate_server_result`` and ``_later_revision_fields`` -- gives it
    back unchanged (tests/bridge/test_earlycall.py holds the two to each other)."""
    modern = version == "2026-07-28"
    keys = {"content", "structuredContent", "isError", "_meta"} | ({"resultType"} if modern else set())
    if version is None or not set(raw) <= keys or (modern and raw.get("resultType") != "complete"):
        return False
    content = raw.get("content")
    if not isinstance(content, list) or not all(
        isinstance(b, dict) and set(b) == _TEXT and b["type"] == "text" and isinstance(b["text"], str)
        for b in content
    ):
        return False
    if "isError" in raw and not isinstance(raw["isError"], bool):
        return False
    if "_meta" in raw and not isinstance(raw["_meta"], dict):  # any object, in every version
        return False
    return "structuredContent" not in raw or isinstance(raw["structuredContent"], dict)
