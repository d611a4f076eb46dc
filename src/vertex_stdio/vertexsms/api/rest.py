"""VertexSMS REST over one pooled ``httpx2.AsyncClient``, with money-safe retries."""

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
from vertex_stdio.core.credentials import SignInPrompt, TokenProvider, parse_challenge
from vertex_stdio.core.http import pool_limits
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

MAX_BODY_BYTES = 4 * 1024 * 1024
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


def make_client(timeout: float, transport: httpx2.AsyncBaseTransport | None = None) -> httpx2.AsyncClient:
    """The process's HTTP client: bounded pool, explicit timeouts, no redirects for auth'd calls."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        limits=pool_limits(),  # bounded, kept for the next burst, never stale (connections.py)
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
        transport=transport,
    )


class LazyClient:
    """The process's client, built on first use: building one loads the TLS trust store.

    That takes ~90 ms, which start-up and ``tools/list`` need not wait for.  Closes the
    client on exit if it was built.
    """

    def __init__(self, factory: Callable[[], httpx2.AsyncClient]) -> None:
        self._factory = factory
        self._client: httpx2.AsyncClient | None = None

    def get(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    async def __aenter__(self) -> LazyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()


class RestUpstream:
    """Calls VertexSMS REST endpoints with the token from a ``TokenProvider``.

    Retries only calls that neither cost money nor change state, and only on connection
    failures, 502/503/504 and 429 (honouring ``Retry-After`` up to a cap).  A 401 (or a
    403 ``insufficient_scope``) is reported to the token provider, and the call is made
    once more only if it offers a different token: a rejected request did nothing.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        client: httpx2.AsyncClient | LazyClient,
        *,
        timeout: float = 30.0,
        sleep: Sleep = anyio.sleep,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._client = client
        self._deadline = timeout + 5.0
        self._sleep = sleep
        self._max_retries = max_retries

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
        failing slowly (a drip, a stall) ends when a single attempt would have.
        """
        attempt = 0
        reauthorized = False
        ends: float | None = None  # the deadline; restarted after a sign-in renewed the token
        while True:
            token = await self._tokens.token([op.scope], prompt)
            ends = ends or anyio.current_time() + self._deadline
            try:
                # A call that costs money is shielded: once its bytes may have left, a client's
                # cancellation must not hide the outcome; it is waited for (bounded) and logged.
                with anyio.CancelScope(shield=op.costs_or_changes):
                    response = await self._once(op, method, path, token, json_body, params, ends)
                if op.costs_or_changes:
                    log.info("%s: VertexSMS answered HTTP %s", op.tool, response.status)
            except _NoAnswer as failure:
                if not self._may_retry(op, attempt, ends):
                    raise unavailable(op, failure.why, reached=failure.reached) from failure.__cause__
                attempt += 1
                await self._sleep(_backoff(attempt))
                continue
            if response.status in (401, 403) and not reauthorized:
                challenge = parse_challenge(response.headers.get("www-authenticate"))
                renewable = response.status == 401 or challenge.error == "insufficient_scope"
                if renewable and await self._tokens.rejected(token, challenge):
                    reauthorized, ends = True, None
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
            raise without_sent(
                error_for_status(op, response.status, response.headers, response.body, [token]), [token]
            )

    def _may_retry(self, op: Operation, attempt: int, ends: float, wait: float = 0.0) -> bool:
        """Only free, unchanging calls are retried: a few times, and only within the deadline."""
        if op.costs_or_changes or attempt >= self._max_retries:
            return False
        return anyio.current_time() + wait < ends

    async def _once(
        self,
        op: Operation,
        method: str,
        path: str,
        token: str,
        json_body: Any,
        params: Mapping[str, str] | None,
        ends: float,
    ) -> RestResponse:
        url = self._base + path
        headers = {TOKEN_HEADER: token}
        try:
            with anyio.fail_after(max(0.0, ends - anyio.current_time())):
                client = self._client.get() if isinstance(self._client, LazyClient) else self._client
                request = client.build_request(method, url, json=json_body, params=params, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    body = await _read_capped(response, op)
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
        log.debug("%s: %s %s -> %s", op.tool, method, path, response.status_code)
        return RestResponse(response.status_code, response.headers, body)


async def _read_capped(response: httpx2.Response, op: Operation) -> bytes:
    """The body, bounded: an oversized success is unreadable; an error body is cut short.

    An error's status decides its meaning (and, for a send, that the outcome is unknown);
    its body only lends a message, so the rest of an oversized one is not waited for.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            if 200 <= response.status_code < 300:
                raise unreadable_success(op, f"larger than {MAX_BODY_BYTES // 1_048_576} MiB")
            break
        chunks.append(chunk)
    return b"".join(chunks)


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
