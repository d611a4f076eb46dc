"""A forward HTTP proxy on 127.0.0.1 for the proxy tests: plain-HTTP targets relayed, HTTPS tunnelled.

``with forward_proxy() as proxy:`` yields it; ``proxy.url`` goes in ``HTTP_PROXY`` or
``HTTPS_PROXY``; ``proxy.seen`` lists each proxied request line (``POST http://127.0.0.1:PORT/mcp``,
or ``CONNECT 127.0.0.1:PORT`` for a tunnel).  Plain-HTTP responses are relayed as they arrive (an
event stream too), then the connection is closed: a client that goes away mid-answer ends the
request to the remote too (an idle event stream would stay open at the remote until it stopped),
and a remote that ends its connection mid-answer ends the client's.  A ``CONNECT`` (RFC 9110
§9.3.6) is answered 200 and then bytes are copied both ways, unread (TLS end to end), until either
side closes or a minute passes idle.  Stopped on exit; any other exception in a handler fails the
block (``failures``).
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authorization",
}


@dataclass
class ForwardProxy:
    url: str
    seen: list[str] = field(default_factory=list)
    note: Callable[[str], object] | None = None  # also told each request line, as it arrives
    failures: list[str] = field(default_factory=list)  # a handler's exception: failed at the block's end

    def saw(self, line: str) -> None:
        self.seen.append(line)
        if self.note is not None:
            self.note(line)


def _handler(proxy: ForwardProxy) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:  # quiet
            return

        def _relay(self) -> None:
            target = urlsplit(self.path)
            if target.scheme != "http" or not target.hostname:
                self.send_error(501, "only absolute http:// targets")
                return
            proxy.saw(f"{self.command} {self.path}")
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=60)
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path or "/", body=body, headers=headers)
            answer = upstream.getresponse()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            relaying = threading.Event()
            relaying.set()
            threading.Thread(target=_watch, args=(self.connection, upstream, relaying), daemon=True).start()
            try:
                while chunk := answer.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:  # the client went away (a write to it failed)
                pass
            except http.client.IncompleteRead:  # the remote's connection ended mid-body: so does ours
                pass
            finally:
                relaying.clear()
                upstream.close()
                self.close_connection = True

        do_GET = do_POST = do_DELETE = _relay

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            proxy.saw(f"CONNECT {self.path}")
            self.close_connection = True
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
            except (OSError, ValueError):
                self.send_error(502, "cannot reach the tunnel's target")
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            with upstream:
                _tunnel(self.connection, upstream)

    return Relay


def _watch(client: socket.socket, upstream: http.client.HTTPConnection, relaying: threading.Event) -> None:
    """Shut ``upstream``'s socket once ``client`` has gone while the answer is being relayed: an
    event stream idle in between (a 2025 session's GET, a 2026-07-28 ``subscriptions/listen``)
    would otherwise stay open at the remote until it stops (then cut mid-body)."""
    while relaying.is_set():
        try:
            ready, _, _ = select.select([client], [], [], 0.1)
            gone = bool(ready) and not client.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):  # closed: by the client, or by the handler once the relay ended
            ready, gone = [], True
        sock = upstream.sock
        if gone and relaying.is_set() and sock is not None:
            with suppress(OSError):  # the relay may have closed it just now
                sock.shutdown(socket.SHUT_RDWR)
            return
        if ready:  # the client sent more (it is not read before the answer ends): look again later
            time.sleep(0.1)


def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until one side closes, or a minute passes with nothing to copy."""
    ends = [client, upstream]
    while True:
        ready, _, _ = select.select(ends, [], [], 60.0)
        if not ready:
            return
        for end in ready:
            try:
                data = end.recv(65536)
                if not data:
                    return
                (upstream if end is client else client).sendall(data)
            except OSError:
                return


@contextmanager
def forward_proxy(note: Callable[[str], object] | None = None) -> Iterator[ForwardProxy]:
    """``note``: told each request line as it arrives (e.g. to write it into a shared log)."""
    proxy = ForwardProxy("", note=note)
    server = _Server(("127.0.0.1", 0), _handler(proxy))
    server.failures = proxy.failures
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not proxy.failures, f"the forward proxy failed:\n{proxy.failures[0]}"


class _Server(ThreadingHTTPServer):
    """Each handler's exception is kept (``failures``) as well as printed: a test fails on it."""

    daemon_threads = True
    failures: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.failures.append(traceback.format_exc())
        super().handle_error(request, client_address)
