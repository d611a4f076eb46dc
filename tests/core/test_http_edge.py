"""The HTTP edge's rules, each tested once here, against real loopback servers (core/http.py,
core/calls.py): proxies from the environment, TLS from the system store plus ``SSL_CERT_FILE``,
the bearer flow (renew once, step up, no replay), the recorder and the size cap."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from loopback import serve_in_thread
from private_ca import certificates
from starlette.types import Receive, Scope, Send

from vertex_stdio.core.calls import AnswerTooLarge, BearerAuth, CallRecord, recording
from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.http import make_client, tls_context

pytestmark = pytest.mark.anyio

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


async def _reply(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


def _named(name: str) -> object:
    """An app answering every request with ``name`` and the request target it saw."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _reply(send, 200, json.dumps({"who": name, "target": scope["path"]}).encode())

    return app


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


async def test_a_proxy_named_by_the_environment_carries_requests_except_for_no_proxy_hosts(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY sends a request to the proxy (absolute-form target); NO_PROXY's hosts go direct;
    an error answer that came through the proxy is still recorded."""
    with (
        serve_in_thread(_named("proxy"), lifespan="off") as proxy,
        serve_in_thread(_named("origin"), lifespan="off") as origin,
    ):
        no_proxies.setenv("HTTP_PROXY", proxy)
        no_proxies.setenv("NO_PROXY", "localhost")
        async with make_client(timeout=10.0) as client:
            proxied = (await client.get(f"{origin}/x")).json()
        no_proxies.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with make_client(timeout=10.0) as client:
            direct = (await client.get(f"{origin}/x")).json()
    assert proxied == {"who": "proxy", "target": f"{origin}/x"}
    assert direct == {"who": "origin", "target": "/x"}


async def test_the_proxy_choice_is_kept_per_host_and_a_new_client_reads_the_environment_again(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """Each host keeps its own choice however often it is asked (the choice is cached per scheme,
    host and port); the environment is read when a client is made, so a change reaches the next
    client, not one already made."""
    with (
        serve_in_thread(_named("proxy"), lifespan="off") as proxy,
        serve_in_thread(_named("origin"), lifespan="off") as origin,
    ):
        by_name = origin.replace("127.0.0.1", "localhost")
        no_proxies.setenv("HTTP_PROXY", proxy)
        no_proxies.setenv("NO_PROXY", "localhost")
        async with make_client(timeout=10.0) as client:
            first = [(await client.get(f"{url}/x")).json()["who"] for url in (origin, by_name) * 3]
            no_proxies.setenv("NO_PROXY", "localhost,127.0.0.1")
            same_client = (await client.get(f"{origin}/x")).json()["who"]
            async with make_client(timeout=10.0) as fresh:
                new_client = (await fresh.get(f"{origin}/x")).json()["who"]
    assert first == ["proxy", "origin"] * 3
    assert same_client == "proxy"
    assert new_client == "origin"


async def test_ssl_cert_file_is_trusted_in_addition_to_the_system_store(
    tmp_path: Path, no_proxies: pytest.MonkeyPatch
) -> None:
    """A server whose CA only SSL_CERT_FILE names is refused without it and reached with it, and
    the system's CAs stay trusted beside it (added to, not replaced)."""
    ca, cert, key = certificates(tmp_path)
    no_proxies.delenv("SSL_CERT_FILE", raising=False)
    no_proxies.delenv("SSL_CERT_DIR", raising=False)
    system = tls_context().cert_store_stats()["x509_ca"]
    with serve_in_thread(_named("tls"), lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key)) as base:
        url = base.replace("http://", "https://") + "/"
        async with make_client(timeout=10.0) as client:
            with pytest.raises(httpx2.ConnectError):
                await client.get(url)
        no_proxies.setenv("SSL_CERT_FILE", str(ca))
        async with make_client(timeout=10.0) as client:
            answer = (await client.get(url)).json()
    assert answer["who"] == "tls"
    assert tls_context().cert_store_stats()["x509_ca"] == system + 1


class Tokens:
    """A token provider with a list of tokens: each accepted rejection moves to the next."""

    def __init__(self, *tokens: str, renews: bool = True) -> None:
        self.tokens = list(tokens)
        self.renews = renews
        self.asked: list[tuple[str, ...]] = []
        self.rejections: list[tuple[str, Challenge]] = []

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        self.asked.append(tuple(scopes))
        if not self.tokens:
            raise AuthRequired("not signed in")
        return self.tokens[0]

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        self.rejections.append((token, challenge))
        if self.renews and len(self.tokens) > 1 and self.tokens[0] == token:
            self.tokens.pop(0)
            return True
        return False


def _gate(good: str, *, refusal: int = 401, challenge: str = 'Bearer error="invalid_token"') -> object:
    """A resource that accepts only ``Bearer good`` and refuses anything else with ``refusal``;
    it answers with the number of requests it has seen."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        seen.append(auth)
        if auth != f"Bearer {good}":
            await _reply(send, refusal, b"{}", [(b"www-authenticate", challenge.encode())])
            return
        await _reply(send, 200, json.dumps(seen).encode())

    return app


@pytest.fixture
def gate() -> Iterator[str]:
    with serve_in_thread(_gate("B"), lifespan="off") as base:
        yield base


async def test_a_401_renews_the_token_once_and_the_request_goes_again(gate: str) -> None:
    """Attach, refuse, tell the provider, send once more with the new token; the record keeps both
    tokens (for scrubbing) and no error (the call succeeded)."""
    tokens = Tokens("A", "B")
    async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
        with recording(CallRecord(scopes=("sms:send",))) as record:
            response = await client.get(f"{gate}/")
    assert response.status_code == 200
    assert response.json() == ["Bearer A", "Bearer B"]
    assert record.sent == ["A", "B"]
    assert record.status is None
    assert record.refused is None
    assert [t for t, _ in tokens.rejections] == ["A"]
    assert tokens.asked == [("sms:send",), ("sms:send",)]


async def test_renewal_is_tried_once_only(gate: str) -> None:
    """A provider that hands out another refused token gets no third request."""
    tokens = Tokens("A", "C", "B")
    async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
        with recording(CallRecord()) as record:
            response = await client.get(f"{gate}/x")
    assert response.status_code == 401
    assert record.sent == ["A", "C"]
    assert record.status == 401


async def test_a_call_that_must_not_be_replayed_gets_the_refusal_and_the_refused_token() -> None:
    """replay=False: one POST; the 401 is the answer, the refused token is noted and the provider
    told (the next token is renewed); a GET of such a call (opening a stream) still goes again."""
    with serve_in_thread(_gate("B"), lifespan="off") as gate:
        tokens = Tokens("A", "B")
        async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
            with recording(CallRecord(replay=False)) as record:
                response = await client.post(f"{gate}/sms", json={})
            assert response.status_code == 401
            assert record.refused == "A"
            assert record.sent == ["A"]
            assert [t for t, _ in tokens.rejections] == ["A"]
            assert await tokens.token(()) == "B"
        tokens = Tokens("A", "B")
        async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
            with recording(CallRecord(replay=False)) as record:
                assert (await client.get(f"{gate}/stream")).status_code == 200
            assert record.refused is None


async def test_insufficient_scope_steps_up_and_other_403s_do_not() -> None:
    """A 403 insufficient_scope hands the challenge's scopes to the provider and goes again; a
    plain 403 (a route or IP rule) renews nothing."""
    step_up = 'Bearer error="insufficient_scope", scope="sms:send numbers:read"'
    with serve_in_thread(_gate("B", refusal=403, challenge=step_up), lifespan="off") as scoped:
        tokens = Tokens("A", "B")
        async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
            assert (await client.get(scoped)).status_code == 200
    assert tokens.rejections[0][1].scopes == ("sms:send", "numbers:read")
    with serve_in_thread(_gate("B", refusal=403, challenge="Bearer"), lifespan="off") as plain:
        tokens = Tokens("A", "B")
        async with make_client(timeout=10.0, auth=BearerAuth(tokens)) as client:
            assert (await client.get(plain)).status_code == 403
    assert tokens.rejections == []


async def test_the_token_goes_in_the_header_the_api_names(no_proxies: pytest.MonkeyPatch) -> None:
    """A REST API with its own token header gets the bare token there; no sign-in, no request."""

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _reply(send, 200, dict(scope["headers"]).get(b"x-api-token", b"").decode().encode())

    auth = BearerAuth(Tokens("T1"), header="X-Api-Token", scheme="")
    with serve_in_thread(echo, lifespan="off") as base:
        async with make_client(timeout=10.0, auth=auth) as client:
            assert (await client.get(base)).text == "T1"
            async with make_client(timeout=10.0, auth=BearerAuth(Tokens())) as signed_out:
                with recording(CallRecord()) as record, pytest.raises(AuthRequired):
                    await signed_out.get(base)
    assert record.auth_error is not None
    assert record.sent == []


EVENT = b"event: message\ndata: " + b"x" * 1000 + b"\n\n"
BODIES = {  # path: (content type, chunk, how many)
    "/one": (b"application/json", b"x" * 65536, 70),  # 4.4 MiB: one answer past 4 MiB
    "/events": (b"text/event-stream", EVENT, 80),  # 80 KB in small events
    "/crlf": (b"text/event-stream", EVENT.replace(b"\n", b"\r\n"), 80),
    "/endless": (b"text/event-stream", b"data: " + b"x" * 1000, 80),  # one event that never ends
}


async def _big(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    kind, chunk, count = BODIES[scope["path"]]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    for _ in range(count):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_an_answer_past_the_cap_is_cut_off_and_recorded_an_event_stream_counts_per_event() -> None:
    """4 MiB by default for one answer; a smaller cap where a client asks for one; an event stream
    is bounded per event (LF or CRLF), so a long stream of small events passes, one endless
    event does not; the record says the answer was too large (not a lost connection)."""
    with serve_in_thread(_big, lifespan="off") as base:
        async with make_client(timeout=10.0) as client:
            with recording(CallRecord()) as record, pytest.raises(AnswerTooLarge) as caught:
                await client.get(f"{base}/one")
            assert caught.value.limit == 4 * 1024 * 1024
            assert isinstance(caught.value, httpx2.StreamError)  # the SDK fails that request only
            assert record.oversized
            assert record.failure is None
        async with make_client(timeout=10.0, max_answer=4096) as small:
            assert len((await small.get(f"{base}/events")).content) == 80 * len(EVENT)
            assert len((await small.get(f"{base}/crlf")).content) == 80 * (len(EVENT) + 3)
            for path in ("/endless", "/one"):
                with pytest.raises(AnswerTooLarge):
                    await small.get(f"{base}{path}")


async def test_a_connection_failure_is_recorded_for_the_call(no_proxies: pytest.MonkeyPatch) -> None:
    """The layers above fold transport failures into generic errors; the record keeps the cause."""
    with serve_in_thread(_named("gone"), lifespan="off") as base:
        pass  # stopped: its port now refuses connections
    async with make_client(timeout=10.0) as client:
        with recording(CallRecord()) as record, pytest.raises(httpx2.ConnectError):
            await client.get(base)
    assert isinstance(record.failure, httpx2.ConnectError)


def _chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


# Raw answers uvicorn would never send: lengths that lie, or that a Transfer-Encoding overrides.
RAW = {
    b"/declared": b"Content-Length: 100\r\n\r\n" + b"x" * 100,
    b"/longer-than-declared": b"Content-Length: 100\r\n\r\n" + b"x" * 100_000,
    b"/declared-over-cap": b"Content-Length: 5000\r\n\r\n" + b"x" * 5000,
    b"/chunked-beats-length": b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
    + _chunked(b"x" * 100_000),
}


@contextmanager
def _raw_server() -> Iterator[str]:
    """A loopback HTTP/1.1 server that writes ``RAW[path]`` as it is, then closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1]
            with contextlib.suppress(OSError):  # the client may stop reading and close first
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n" + RAW[path])

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            answer(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        listener.close()


async def test_the_cap_holds_whatever_length_an_answer_declares(no_proxies: pytest.MonkeyPatch) -> None:
    """An answer whose Content-Length is within the cap is not counted again (the connection
    reads no more than it declares: never past it, even when more bytes follow); a declared
    length past the cap, or one a Transfer-Encoding overrides, is still cut off at the cap."""
    with _raw_server() as base:
        async with make_client(timeout=10.0, max_answer=4096) as client:
            assert (await client.get(f"{base}/declared")).content == b"x" * 100
            assert (await client.get(f"{base}/longer-than-declared")).content == b"x" * 100
            for path in ("/declared-over-cap", "/chunked-beats-length"):
                with recording(CallRecord()) as record, pytest.raises(AnswerTooLarge):
                    await client.get(f"{base}{path}")
                assert record.oversized, path
