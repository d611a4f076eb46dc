"""The forward proxy of the proxy tests (``tests/support/forward_proxy.py``) relays an event stream
as a proxy does: a client that goes away ends the request to the remote, a remote that ends its
connection mid-answer ends the client's (no traceback), and a real failure fails the test.

The remote here is a raw socket on loopback answering one chunked event stream: one event, then
it holds the stream open (or, ``cut``, closes its connection without the last chunk)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from forward_proxy import forward_proxy

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENT = b"data: x\n\n"


@contextmanager
def _stream_remote(cut: bool) -> Iterator[tuple[str, threading.Event]]:
    """One chunked event stream on 127.0.0.1; yields its URL and an event set once the proxy's
    connection to it ended (the remote read its end)."""
    sock = socket.create_server(("127.0.0.1", 0))
    ended = threading.Event()

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(20)
            while b"\r\n\r\n" not in conn.recv(65536):
                pass
            conn.sendall(HEAD + b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
            if not cut:
                while conn.recv(65536):
                    pass
        ended.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/stream", ended
    finally:
        sock.close()
        thread.join(10)


def _opened(proxy_url: str, url: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    proxy = urlsplit(proxy_url)
    conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port, timeout=20)
    conn.request("GET", url, headers={"Accept": "text/event-stream"})
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.read1(65536) == EVENT
    return conn, answer


def test_a_client_that_goes_away_ends_the_request_to_the_remote() -> None:
    with _stream_remote(cut=False) as (url, ended), forward_proxy() as proxy:
        conn, answer = _opened(proxy.url, url)
        assert not ended.wait(0.3)  # the stream stays open while the client is there
        answer.close()
        conn.close()
        assert ended.wait(5)  # before: open until the remote stopped


def test_a_remote_that_ends_mid_answer_ends_the_clients_as_a_normal_end(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with _stream_remote(cut=True) as (url, ended), forward_proxy() as proxy:
        conn, answer = _opened(proxy.url, url)
        assert ended.wait(5)
        assert answer.read() == b""  # the client's answer ends where the remote's did
        conn.close()
    assert "Traceback" not in capfd.readouterr().err  # before: IncompleteRead's, from the proxy's thread
    assert proxy.failures == []


def test_a_failure_in_the_proxy_fails_the_test() -> None:
    """A target nothing listens on: the proxy's handler fails, and so does the block."""
    refused = socket.create_server(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()

    def asked() -> None:
        with forward_proxy() as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", urlsplit(proxy.url).port, timeout=20)
            conn.request("GET", f"http://127.0.0.1:{port}/")
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                conn.getresponse()
            conn.close()

    with pytest.raises(AssertionError, match="the forward proxy failed"):
        asked()
