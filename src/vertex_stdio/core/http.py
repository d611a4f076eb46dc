"""Every HTTP client of ours comes from ``make_client``: one set of rules for connections.

- **Pool and keep-alive.**  A kept-alive connection the server has just closed fails the next
  request on it ("Server disconnected without sending a response").  For a read that costs a
  retry; for a send it is worse: the request may have reached the server, so its outcome is
  reported as unknown.  The server closes an idle connection after its own keep-alive timeout,
  and the most common one is 5 s (Node's ``http.Server``, uvicorn); httpx2's own default is also
  5 s, so the two race at the same instant: measured on loopback, 16 of 600 requests after a
  4.9-5.1 s pause failed with 5 s here and none with 4 s.  So connections idle for 4 s are closed
  on our side first.  Servers with longer timeouts (nginx 75 s, load balancers 60 s) lose nothing
  but reuse after 4 s of quiet.  (Node 22.23, the conformance suite's, says ``timeout=5`` and
  closes after 5 s plus its 1 s ``keepAliveTimeoutBuffer``.)  Our clock starts when an answer is read or closed, the server's when it was sent: an
  answer held unread across a long wait keeps its connection out of the rule, so whoever waits
  after an answer (``core.calls.BearerAuth`` for a sign-in) reads it first.
- **Proxies from the environment on every path.**  httpx2 reads ``HTTPS_PROXY``/``NO_PROXY``
  only for a client that builds its own transport; ours wrap theirs (to record and cap), so the
  routing is done here, per request, by the standard library's reading of the environment.
- **TLS**: the system trust store (the operating system's on Windows and macOS; on Linux its
  CA folder alone when that holds exactly the bundle's certificates: ``core.castore``) plus, when
  set, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (a company CA): added to the system's, never instead of it.
- **The recorder and the size cap** (``core.calls``) sit on every transport, proxied or not.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from functools import lru_cache

import httpx2

from vertex_stdio.core.calls import MAX_ANSWER_BYTES, Edge
from vertex_stdio.core.castore import system_context

KEEPALIVE_EXPIRY = 4.0  # seconds; below the common 5 s server keep-alive timeout
CHOICES_KEPT = 64  # proxy choices kept per client (scheme, host, port)


def pool_limits(*, max_connections: int = 100, kept: int = 100) -> httpx2.Limits:
    """Bounded, yet wide enough that a burst of calls waits on the server, not on the pool
    (benchmarks/: 200 calls at once); as many kept idle as a burst used, until ``KEEPALIVE_EXPIRY``."""
    return httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=kept, keepalive_expiry=KEEPALIVE_EXPIRY
    )


def tls_context() -> ssl.SSLContext:
    """The system's trust store plus ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when they name a file/folder.

    Built once per value of those variables: loading a trust store takes ~90 ms.
    """
    return _tls_context(os.environ.get("SSL_CERT_FILE") or "", os.environ.get("SSL_CERT_DIR") or "")


@lru_cache(maxsize=4)
def _tls_context(cafile: str, capath: str) -> ssl.SSLContext:
    # httpx2's own default replaces the system store when SSL_CERT_FILE is set; without the
    # environment it is the system store (truststore on Windows and macOS, which also trusts
    # what load_verify_locations adds; on Linux read as handshakes need it when it can be: castore).
    context = system_context()
    extra_file = cafile if os.path.isfile(cafile) else None
    extra_dir = capath if os.path.isdir(capath) else None
    if extra_file or extra_dir:
        context.load_verify_locations(cafile=extra_file, capath=extra_dir)
    return context


class _Routes(httpx2.AsyncBaseTransport):
    """Sends each request directly, or through the proxy the environment names for its URL.

    ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (either case) and ``NO_PROXY`` are read once,
    when the client is made, as the standard library reads them; so the choice for one scheme,
    host and port never changes for this client, and is made once (the standard library parses
    ``NO_PROXY`` again on every question).
    """

    def __init__(self, limits: httpx2.Limits) -> None:
        self._limits = limits
        self._proxies = urllib.request.getproxies_environment()
        self._direct: httpx2.AsyncHTTPTransport | None = None
        self._via: dict[str, httpx2.AsyncHTTPTransport] = {}
        self._chosen: dict[tuple[str, str, int | None], str | None] = {}

    def _transport(self, proxy: str | None) -> httpx2.AsyncHTTPTransport:
        # Built on first use: a transport loads the TLS context, which start-up need not wait for.
        if proxy is None:
            if self._direct is None:
                self._direct = httpx2.AsyncHTTPTransport(verify=tls_context(), limits=self._limits)
            return self._direct
        if proxy not in self._via:
            self._via[proxy] = httpx2.AsyncHTTPTransport(
                verify=tls_context(), limits=self._limits, proxy=httpx2.Proxy(proxy)
            )
        return self._via[proxy]

    def proxy_for(self, url: httpx2.URL) -> str | None:
        """The proxy URL for ``url``, or None to go direct."""
        if not self._proxies:
            return None
        where = (url.scheme, url.host, url.port)
        if where not in self._chosen:
            if len(self._chosen) >= CHOICES_KEPT:  # a client talks to a handful of hosts
                self._chosen.clear()
            self._chosen[where] = self._choose(url)
        return self._chosen[where]

    def _choose(self, url: httpx2.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy:
            return None
        host = url.host if url.port is None else f"{url.host}:{url.port}"
        # The standard library's NO_PROXY reading (undocumented, but what getproxies pairs with).
        if urllib.request.proxy_bypass_environment(host, self._proxies):  # type: ignore[attr-defined]
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._transport(self.proxy_for(request.url)).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in [self._direct, *self._via.values()]:
            if transport is not None:
                await transport.aclose()


def make_client(
    *,
    timeout: float,
    transport: httpx2.AsyncBaseTransport | None = None,
    auth: httpx2.Auth | None = None,
    headers: dict[str, str] | None = None,
    max_connections: int = 100,
    kept: int = 100,
    max_answer: int = MAX_ANSWER_BYTES,
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` with the rules above; redirects are never followed.

    ``transport`` replaces the network (tests: a loopback or in-memory one; proxies then do not
    apply); it is still recorded and capped.  ``max_answer`` bounds one answer (for an event
    stream, one event) in bytes.  Connecting gets at most 10 s of ``timeout``.
    """
    limits = pool_limits(max_connections=max_connections, kept=kept)
    return httpx2.AsyncClient(
        # our own transport frames bodies by Content-Length (h11/h2 never read past it); one a
        # caller gives may not, so its every answer is counted
        transport=Edge(transport or _Routes(limits), max_answer, framed=transport is None),
        limits=limits,
        auth=auth,
        timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        headers=headers,
        follow_redirects=False,
        trust_env=False,  # the environment is read by _Routes, for every transport
    )
