"""VertexSMS REST over one client of the HTTP edge (core/http.py), with money-safe retries."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from vertex_stdio import __version__
from vertex_stdio.core.calls import AnswerTooLarge, BearerAuth, CallRecord, current, recording
from vertex_stdio.core.credentials import SignInPrompt, TokenProvider
from vertex_stdio.core.errors import VertexError
from vertex_stdio.core.http import make_client
from vertex_stdio.vertexsms.api.outcomes import (
    RETRYABLE_STATUSES,
    Operation,
    error_for_status,
    retry_after_seconds,
    unavailable,
    unreadable_success,
    without_sent,
)

log = logging.getLogger(__name__)

MAX_RETRIES = 2
MAX_RETRY_AFTER = 10.0
USER_AGENT = f"vertex-stdio/{__version__}"
TOKEN_HEADER = "X-VertexSMS-Token"  # noqa: S105 - a header name, not a secret

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RestResponse:
    """A successful (2xx) answer, read in full."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, op: Operation) -> Any:
        """The body as JSON; an unreadable body is an ``UpstreamError`` naming the outcome."""
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise unreadable_success(op, "not valid JSON") from exc

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace").strip()


class _NoAnswer(Exception):
    """Internal: the attempt got no answer (timeout, connection failure); ``why`` says which.

    ``reached`` is False only when the connection was never made, so no byte of the request
    can have reached VertexSMS.
    """

    def __init__(self, why: str, *, reached: bool = True) -> None:
        super().__init__(why)
        self.why = why
        self.reached = reached


# Failures that happen before a connection exists: DNS, refused or timed-out connects, TLS
# handshakes, a full pool, a proxy that would not connect.  Anything later may have delivered
# the request.
_NEVER_CONNECTED = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError)


class RestUpstream:
    """Calls VertexSMS REST endpoints with the token from a ``TokenProvider``.

    Retries only calls that neither cost money nor change state, and only on connection
    failures, 502/503/504 and 429 (honouring ``Retry-After`` up to a cap).  The edge's bearer
    flow renews the token once after a 401 (or a 403 ``insufficient_scope``) and sends a read
    again; a call that costs or changes something is never sent again: its refusal is raised
    (``refused``), and the refused token stays on the call's ``CallRecord`` for a caller that
    records each attempt (``vertexsms.tools.base.billable_attempts``) to renew and try anew.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._client = make_client(
            timeout=timeout,
            transport=transport,
            auth=BearerAuth(tokens, header=TOKEN_HEADER, scheme=""),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._deadline = timeout + 5.0
        self._sleep = sleep
        self._max_retries = max_retries

    async def aclose(self) -> None:
        """Close the connection pool (at shutdown)."""
        await self._client.aclose()

    async def call(
        self,
        op: Operation,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        prompt: SignInPrompt | None = None,
    ) -> RestResponse:
        """Make the call; return a 2xx answer or raise the contract's error.

        One deadline bounds the first attempt and every retry after it, so a read that keeps
        failing slowly (a drip, a stall) ends when a single attempt would have.  The call is
        noted on the caller's ``CallRecord`` when one is open, else on its own.
        """
        record = current() or CallRecord()
        record.scopes, record.prompt, record.replay = (op.scope,), prompt, not op.costs_or_changes
        # Built once and sent as often as the retries allow: its body is bytes, replayable.
        request = self._client.build_request(method, self._base + path, json=json_body, params=params)
        with recording(record):
            try:
                return await self._attempts(op, record, request)
            except VertexError as error:
                without_sent(error, record.sent)  # VertexSMS may quote the token it refused
                raise

    async def _attempts(self, op: Operation, record: CallRecord, request: httpx2.Request) -> RestResponse:
        await self._tokens.token([op.scope], record.prompt)  # a sign-in runs here, before the deadline
        ends = anyio.current_time() + self._deadline
        attempt = 0
        while True:
            try:
                # A call that costs money is shielded: once its bytes may have left, a client's
                # cancellation must not hide the outcome; it is waited for (bounded) and logged.
                with anyio.CancelScope(shield=op.costs_or_changes):
                    response, ends = await self._once(op, record, request, ends)
                if op.costs_or_changes:
                    log.info("%s: VertexSMS answered HTTP %s", op.tool, response.status)
            except _NoAnswer as failure:
                if not self._may_retry(op, attempt, ends):
                    raise unavailable(op, failure.why, reached=failure.reached) from failure.__cause__
                attempt += 1
                await self._sleep(_backoff(attempt))
                continue
            if 200 <= response.status < 300:
                return response
            if self._may_retry(op, attempt, ends) and response.status in RETRYABLE_STATUSES:
                attempt += 1
                await self._sleep(_backoff(attempt))
                continue
            if self._may_retry(op, attempt, ends) and response.status == 429:
                wait = retry_after_seconds(response.headers.get("retry-after"))
                if wait is not None and wait <= MAX_RETRY_AFTER and self._may_retry(op, attempt, ends, wait):
                    attempt += 1
                    await self._sleep(wait)
                    continue
            raise error_for_status(op, response.status, response.headers, response.body, record.sent)

    def _may_retry(self, op: Operation, attempt: int, ends: float, wait: float = 0.0) -> bool:
        """Only free, unchanging calls are retried: a few times, and only within the deadline."""
        if op.costs_or_changes or attempt >= self._max_retries:
            return False
        return anyio.current_time() + wait < ends

    async def _once(
        self, op: Operation, record: CallRecord, request: httpx2.Request, ends: float
    ) -> tuple[RestResponse, float]:
        """One request (and the edge's one renewal); the answer and the deadline, which a
        sign-in during the renewal restarted."""
        try:
            with anyio.fail_after(max(0.0, ends - anyio.current_time())) as scope:
                record.deadline, record.budget = scope, self._deadline
                response = await self._client.send(request, stream=True)
                try:
                    body = await _read(response, op)
                finally:
                    await response.aclose()
        except _NEVER_CONNECTED as exc:
            log.warning("%s: could not connect to VertexSMS (%s)", op.tool, type(exc).__name__)
            raise _NoAnswer(f"Could not connect to VertexSMS ({_describe(exc)}).", reached=False) from exc
        except (TimeoutError, httpx2.TimeoutException) as exc:
            log.warning("%s: no answer from VertexSMS in time (%s)", op.tool, type(exc).__name__)
            raise _NoAnswer("VertexSMS did not answer in time.") from exc
        except httpx2.TransportError as exc:
            log.warning("%s: connection to VertexSMS failed (%s)", op.tool, type(exc).__name__)
            raise _NoAnswer(f"The connection to VertexSMS failed ({_describe(exc)}).") from exc
        finally:
            record.deadline = None
        log.debug("%s: %s %s -> %s", op.tool, request.method, request.url.path, response.status_code)
        return RestResponse(response.status_code, response.headers, body), scope.deadline


async def _read(response: httpx2.Response, op: Operation) -> bytes:
    """The body, within the edge's cap: an oversized success is unreadable; an oversized error
    is read as empty (its status decides its meaning, and for a send that the outcome is
    unknown; its body only lends a message)."""
    try:
        return await response.aread()
    except AnswerTooLarge as exc:
        if 200 <= response.status_code < 300:
            raise unreadable_success(op, f"larger than {exc.limit // 1_048_576} MiB") from exc
        return b""


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.2 s, 0.4 s, ... capped at 2 s."""
    base: float = min(2.0, 0.2 * (2 ** (attempt - 1)))
    return base * (0.75 + random.random() / 2)  # noqa: S311 - jitter, not crypto


def _describe(exc: httpx2.TransportError) -> str:
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused, name not found or TLS failed"
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return "connecting timed out"
    if isinstance(exc, httpx2.RemoteProtocolError):
        return "connection dropped mid-answer"
    return type(exc).__name__
