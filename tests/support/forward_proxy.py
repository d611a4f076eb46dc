"""A forward HTTP proxy on 127.0.0.1 for the proxy tests: plain-HTTP targets relayed, HTTPS tunnelled.

``with forward_proxy() as proxy:`` yields it; ``proxy.url`` goes in ``HTTP_PROXY`` or
``HTTPS_PROXY``; ``proxy.seen`` lists each proxied request line (``POST http://127.0.0.1:PORT/mcp``,
or ``CONNECT 127.0.0.1:PORT`` for a tunnel).  Plain-HTTP responses are relayed as they arrive (an
event stream too), then the connection is closed.  A ``CONNECT`` (RFC 9110 §9.3.6) is answered 200
and then bytes are copied both ways, unread (TLS end to end), until either side closes or a minute
passes idle.  Stopped on exit.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
            try:
                while chunk := answer.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:
                pass
            finally:
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
