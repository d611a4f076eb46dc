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
"""

from __future__ import annotations

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
