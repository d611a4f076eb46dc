"""How every HTTP client of ours keeps connections: one rule, so no caller meets a stale one.

A kept-alive connection the server has just closed fails the next request on it
("Server disconnected without sending a response").  For a read that costs a retry; for a send
it is worse: the request may have reached the server, so its outcome is reported as unknown.
The server closes an idle connection after its own keep-alive timeout, and the most common one
is 5 s (Node's ``http.Server``, uvicorn); httpx2's own default is also 5 s, so the two race at
the same instant: measured on loopback, 16 of 600 requests after a 4.9-5.1 s pause failed with
5 s here and none with 4 s.  So connections idle for 4 s are closed on our side first.  Servers
with longer timeouts (nginx 75 s, load balancers 60 s) lose nothing but reuse after 4 s of quiet.

Every client passes ``limits=pool_limits()`` (the transports it builds itself, a proxy's from
the environment included, take them); a client that wraps its transport starts the wrapper
from ``pooled_transport()``, because a transport given to a client does not take its limits.

Answers are read whole into memory by the clients above us, so a response body is wrapped in
``CappedStream``: one answer (a JSON body, or one event of a stream) larger than its cap fails
with ``AnswerTooLarge`` instead of growing the process without bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2

KEEPALIVE_EXPIRY = 4.0  # seconds; below the common 5 s server keep-alive timeout


def pooled_transport() -> httpx2.AsyncHTTPTransport:
    """A transport with ``pool_limits()``: a client given its own transport does not apply its
    ``limits`` (httpx2 sets them on the transport it builds), so wrappers must start from this."""
    return httpx2.AsyncHTTPTransport(limits=pool_limits())


def pool_limits(*, max_connections: int = 100, kept: int = 100) -> httpx2.Limits:
    """Bounded, yet wide enough that a burst of calls waits on the server, not on the pool
    (benchmarks/: 200 calls at once); as many kept idle as a burst used, until ``KEEPALIVE_EXPIRY``."""
    return httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=kept, keepalive_expiry=KEEPALIVE_EXPIRY
    )


MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""The largest answer read from a server by default (one JSON body, or one event of a stream)."""


class AnswerTooLarge(httpx2.StreamError):
    """A response passed its size cap and was not read further.

    A ``StreamError``: the MCP SDK answers the request it was reading with a JSON-RPC error
    and keeps the connection's other requests alive, instead of failing the whole transport.
    """


class CappedStream(httpx2.AsyncByteStream):
    """A response body that fails once one message passes ``limit`` bytes.

    One message is the whole body, or for an event stream (which may stay open for days) one
    event, counted from the last blank line.  Without this a client reads any answer whole
    into memory.  ``exceeded`` is called first, so the caller can tell this from a lost
    connection.
    """

    def __init__(
        self, inner: httpx2.AsyncByteStream, limit: int, *, per_event: bool, exceeded: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._per_event = per_event
        self._exceeded = exceeded

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size, tail = 0, b""
        async for chunk in self._inner:
            size += len(chunk)
            if self._per_event:
                joined = tail + chunk
                lf, crlf = joined.rfind(b"\n\n"), joined.rfind(b"\r\n\r\n")
                end = max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)
                size = len(joined) - end if end >= 0 else size
                tail = joined[-3:]
            if size > self._limit:
                self._exceeded()
                raise AnswerTooLarge(f"the answer is larger than {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
