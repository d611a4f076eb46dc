"""What one call sees at the HTTP edge: its ``CallRecord``, the bearer flow and the size cap.

A caller opens ``recording(CallRecord(...))`` around one logical call (which may be several
HTTP requests: a session's initialize, a retry); the edge notes into it what HTTP said, because
the layers above (the MCP SDK, our session) fold statuses and failures into generic errors:

- ``Edge`` (the transport every client of ``core.http.make_client`` has) notes the error status
  and its headers, a transport failure, and cuts an answer off at the size cap;
- ``BearerAuth`` attaches the token, and after a 401 (or a 403 ``insufficient_scope``) tells
  the token provider and sends the request once more with the renewed token -- unless the
  record says ``replay=False`` (a call that costs money or changes state) and the request is
  not a GET: then the refused token is noted, the refusal is that attempt's answer, and the
  caller decides (a new attempt, recorded as such, or an error).

Pure I/O plumbing: no product names, no wording for people beyond the cap's error.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import httpx2

from vertex_stdio.core.credentials import Challenge, SignInPrompt, parse_challenge
from vertex_stdio.core.errors import AuthRequired

MAX_ANSWER_BYTES = 4 * 1024 * 1024
KEPT_HEADERS = frozenset({"www-authenticate", "retry-after", "content-type"})


@dataclass
class CallRecord:
    """One call's wishes (scopes, prompt, replay) and what HTTP said while it ran.

    ``replay=False`` holds from the moment ``sending`` is true (a caller that first opens a
    session sets it when the call's own request goes).  ``status``/``headers`` are those of the
    last error answer (4xx/5xx); ``refused`` is the token a 401/403 refused when the request was
    not to be replayed (with ``challenge``, for the caller to renew with); ``sent`` every token
    sent, to scrub from any text kept.  ``ended`` is the session a server said it no longer
    knows (noted by whoever keeps sessions above the edge, which knows none); ``sent_on`` the
    connection its request went out on (its sender's handle: a failure drops only that one).
    ``deadline``, when set, is the call's time limit: lifted while a renewal signs in, then
    restarted with ``budget`` seconds.
    """

    scopes: Sequence[str] = ()
    prompt: SignInPrompt | None = None
    replay: bool = True
    sending: bool = True
    interactive: bool = True
    deadline: anyio.CancelScope | None = None
    budget: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    challenge: Challenge | None = None
    refused: str | None = None
    failure: Exception | None = None
    oversized: bool = False
    auth_error: AuthRequired | None = None
    sent: list[str] = field(default_factory=list)
    ended: str | None = None
    sent_on: object | None = None

    def forget_answer(self) -> None:
        """Clear what the last attempt heard (before the call sends again)."""
        self.status, self.headers, self.challenge, self.failure, self.oversized = None, {}, None, None, False
        self.ended = None


_CURRENT: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "vertex_stdio_call", default=None
)


class recording:  # lower case: used as a function, ``with recording(record) as record:``
    """Make ``record`` the current call's record for the block (per task: concurrent calls each
    have their own).  A class, not a generator: it is entered on every call, and costs half
    (0.4 against 0.9 µs)."""

    __slots__ = ("_record", "_reset")

    def __init__(self, record: CallRecord) -> None:
        self._record = record

    def __enter__(self) -> CallRecord:
        self._reset = _CURRENT.set(self._record)
        return self._record

    def __exit__(self, *_exc: object) -> None:
        _CURRENT.reset(self._reset)


def current() -> CallRecord | None:
    """The record of the call under way in this task, if one was opened."""
    return _CURRENT.get()


def renewable(status: int, challenge: Challenge) -> bool:
    """A 401, or a 403 asking for more scope: a renewed token may be accepted."""
    return status == 401 or (status == 403 and challenge.error == "insufficient_scope")


class AnswerTooLarge(httpx2.StreamError):
    """An answer (or one event of a stream) passed the client's cap; the rest was not read.

    A ``StreamError``, not a transport failure: the MCP SDK then fails only the request it was
    reading and keeps the connection's other requests alive.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


class Edge(httpx2.AsyncBaseTransport):
    """Wraps the real transport: notes errors into the current record, caps every answer.

    With ``framed`` (the inner transport never yields more body than the ``Content-Length`` it
    was given: httpcore2's HTTP/1.1 and HTTP/2), an answer that declares a length within the cap
    is within it, so it is not counted again byte by byte; any other answer is.
    """

    def __init__(
        self, inner: httpx2.AsyncBaseTransport, max_answer: int = MAX_ANSWER_BYTES, *, framed: bool = False
    ) -> None:
        self._inner = inner
        self._max = max_answer
        self._framed = framed

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
            record.headers = {k.lower(): v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
        if isinstance(response.stream, httpx2.AsyncByteStream):
            per_event, within = self._framing(response.headers.raw)
            if per_event or not within:
                response.stream = _Capped(response.stream, record, self._max, per_event)
        return response

    def _framing(self, raw: list[tuple[bytes, bytes]]) -> tuple[bool, bool]:
        """Whether the answer is an event stream, and whether it declares a length within the cap
        that the transport keeps to (a ``Transfer-Encoding`` beats ``Content-Length``: then the
        length says nothing).  One pass over the raw headers: ``Headers.get`` decodes them all."""
        per_event, declared, encoded = False, b"", False
        for name, value in raw:
            name = name.lower()
            if name == b"content-type":
                per_event = per_event or b"text/event-stream" in value
            elif name == b"content-length":
                declared = value if not declared else b"?"  # two lengths: trust neither
            elif name == b"transfer-encoding":
                encoded = True
        within = self._framed and not encoded and declared.isdigit() and int(declared) <= self._max
        return per_event, within

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Capped(httpx2.AsyncByteStream):
    """A body that fails with ``AnswerTooLarge`` once one message passes ``limit`` bytes.

    One message is the whole body, or for an event stream (which may stay open for days) one
    event.  Without this a client reads any answer whole into memory.
    """

    def __init__(
        self, inner: httpx2.AsyncByteStream, record: CallRecord | None, limit: int, per_event: bool
    ) -> None:
        self._inner = inner
        self._record = record
        self._limit = limit
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
            if size > self._limit:
                if self._record is not None:
                    self._record.oversized = True
                raise AnswerTooLarge(self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


Silent = Callable[[], Awaitable[str | None]]
_REPLAYABLE = frozenset({"GET", "HEAD"})  # safe methods: sent again whatever the record says


class Tokens(Protocol):
    """What the flow needs of a ``core.credentials.TokenProvider``."""

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str: ...

    async def rejected(self, token: str, challenge: Challenge) -> bool: ...


class BearerAuth(httpx2.Auth):
    """The token from a ``TokenProvider`` on every request; renewed once after a refusal.

    ``header``/``scheme`` say how it is sent (``Authorization: Bearer`` by default).  A record
    with ``interactive=False`` takes only a token at hand (``silent``) and never starts a
    sign-in.  With ``quiet``, having no token is noted on the record (``auth_error``) and the
    request goes without one, for callers inside a library that would bury the exception.
    ``accepted`` hears of each token an answer did not refuse (a provider may stop pausing).

    With ``challenged`` (a server that may need no sign-in at all), a request first goes with
    the token at hand (``silent``) or none; a 401 to it is told to ``challenged`` (where the
    metadata is, what scope to ask for) and only then is a token got as the record allows, and
    the request sent once more (nothing was authorised, so even a non-replayable one).  With
    ``step_up_replays`` a 403 ``insufficient_scope`` (RFC 6750 §3.1: refused for the token's
    scope, not acted on) is stepped up and sent again even when the record says ``replay=False``.
    A refusal is read whole before the flow waits for a token (``_release``: its connection is
    then under the pool's keep-alive rule during a sign-in, not reused as the server closes it).
    """

    def __init__(
        self,
        tokens: Tokens,
        *,
        header: str = "Authorization",
        scheme: str = "Bearer",
        silent: Silent | None = None,
        quiet: bool = False,
        accepted: Callable[[str], None] | None = None,
        challenged: Callable[[Challenge], None] | None = None,
        step_up_replays: bool = False,
    ) -> None:
        self._challenged = challenged
        self._step_up_replays = step_up_replays
        self._tokens = tokens
        self._header = header
        self._prefix = f"{scheme} " if scheme else ""
        self._silent = silent
        self._quiet = quiet
        self._accepted = accepted

    async def _token(self, record: CallRecord) -> str | None:
        try:
            if not record.interactive and self._silent is not None:
                return await self._silent()
            return await self._tokens.token(list(record.scopes), record.prompt)
        except AuthRequired as exc:
            record.auth_error = exc
            if not self._quiet:
                raise
            return None

    async def _at_hand(self) -> str | None:
        """The token at hand without a sign-in, or None (then the request goes without one)."""
        if self._silent is None:
            return None
        try:
            return await self._silent()
        except AuthRequired:
            return None

    def _attach(self, request: httpx2.Request, record: CallRecord, token: str) -> None:
        record.sent.append(token)
        request.headers[self._header] = self._prefix + token

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        record = _CURRENT.get() or CallRecord()
        if self._challenged is not None:
            token = await self._at_hand()
            if token is None:
                response = yield request
                if response.status_code != 401:
                    return  # served without a sign-in
                await _release(response)  # before the sign-in it prompts
                if record.auth_error is None:
                    self._challenged(parse_challenge(response.headers.get("www-authenticate")))
                    with _lifted(record):
                        token = await self._token(record)
                if token is None:
                    record.forget_answer()  # no sign-in was refused: there was none
                    if record.auth_error is None:
                        record.auth_error = AuthRequired(
                            "The server asks for a sign-in, and none is at hand."
                        )
                    return
                self._attach(request, record, token)
                record.forget_answer()
                response = yield request
                await self._told(record, token, request, response)  # refused: no third send
                return
        else:
            token = await self._token(record)
        if token is None:
            yield request
            return
        self._attach(request, record, token)
        response = yield request
        if not await self._told(record, token, request, response) or record.refused is not None:
            return
        with _lifted(record):
            fresh = await self._token(record)
        if fresh is None or fresh == token:
            return
        self._attach(request, record, fresh)
        record.forget_answer()
        response = yield request
        # Refused again: the provider hears of it (a new sign-in's token counts); no third send.
        await self._told(record, fresh, request, response)

    async def _told(
        self, record: CallRecord, token: str, request: httpx2.Request, response: httpx2.Response
    ) -> bool:
        """Tell the provider how ``token`` fared; True when it was refused in a way renewal may fix.

        Told even when another request already reported this token (then it renews nothing):
        what counts is whether a different token is at hand now (or for the next call).
        """
        if response.status_code not in (401, 403):
            if self._accepted is not None:
                self._accepted(token)
            return False
        await _release(response)  # before the renewal, which may be a sign-in
        record.challenge = challenge = parse_challenge(response.headers.get("www-authenticate"))
        step_up = self._step_up_replays and response.status_code == 403
        if not record.replay and record.sending and request.method not in _REPLAYABLE and not step_up:
            record.refused = token  # the refusal is this attempt's answer; the caller decides
        if not renewable(response.status_code, challenge):
            return False
        await self._tokens.rejected(token, challenge)
        return True

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("our HTTP clients are async only")


async def _release(refusal: httpx2.Response) -> None:
    """Read a refusal whole (it is small, and capped) before waiting for a token.

    Until its body is read an answer holds its connection, and the pool's keep-alive clock
    (``core.http.KEEPALIVE_EXPIRY``) starts only when the connection is released.  Held through
    a sign-in of about the server's keep-alive timeout (6 s for Node 22), the retry was written into
    that connection just as the server closed it: ``ReadError``, seen in the MCP conformance
    suite under load.  Released at once, the connection is idle by our clock for the whole
    sign-in, so the retry goes on a new one whenever the server may have closed this one.
    (httpx2 reads the refusal before sending the retry anyway; only the moment changes.)
    """
    await refusal.aread()


@contextmanager
def _lifted(record: CallRecord) -> Iterator[None]:
    """A renewal may wait for a person's sign-in: the call's deadline restarts after it."""
    scope = record.deadline
    if scope is None:
        yield
        return
    scope.deadline = math.inf
    try:
        yield
    finally:
        scope.deadline = anyio.current_time() + record.budget
