"""A sign-in between a refusal and its retry never sends the retry into a connection the server closed.

The flake this pins down (the conformance suite's ``auth/scope-step-up``, under load): the MCP
server answered 401, the person signed in for about 6 s, and the retry went out on the same
kept-alive connection just as the server (Node 22: 5 s keep-alive plus a 1 s buffer) closed it:
``ReadError``.  Our 4 s keep-alive expiry (core/http.py) did not apply: the 401 was held unread
during the sign-in, so by the pool's clock the connection was idle only from the moment it was
reused.

The server here never closes a quiet connection by itself (so the client cannot see it closing):
a request that arrives on a connection quiet for longer than its keep-alive timeout is reset
unanswered, which is what the race does to the request.  Client keep-alive < server keep-alive
< sign-in, scaled down from 4 s < 6 s < ~6 s, so the outcome does not depend on timing.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest
from anyio.abc import SocketAttribute, SocketStream

from vertex_stdio.core.calls import BearerAuth, CallRecord, recording
from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.http import make_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # waits out keep-alive timeouts on the real clock

CLIENT_KEEPALIVE = 0.2
SERVER_KEEPALIVE = 0.5
SIGN_IN = 1.0


@dataclass
class KeepAliveServer:
    """HTTP/1.1 on loopback: 401 without a token, 403 ``insufficient_scope`` or 401 (``refusal``)
    to the stale one, 200 to the fresh one; resets a request that comes after the keep-alive."""

    refusal: int = 403
    connections: int = 0
    resets: int = 0
    answered: list[tuple[int, str | None]] = field(default_factory=list)  # (connection, token)

    async def serve(self, stream: SocketStream) -> None:
        self.connections += 1
        number, buffered = self.connections, b""
        quiet_since: float | None = None
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffered:
                    try:
                        buffered += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                if quiet_since is not None and anyio.current_time() - quiet_since > SERVER_KEEPALIVE:
                    self.resets += 1
                    _reset(stream)
                    return
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                buffered = await _skip_body(stream, head, buffered)
                token = _bearer(head)
                self.answered.append((number, token))
                await stream.send(self._answer(token))
                quiet_since = anyio.current_time()

    def _answer(self, token: str | None) -> bytes:
        if token == "fresh":
            return _response(200, "OK", b"{}")
        if token is None:
            return _response(401, "Unauthorized", b'{"error":"invalid_token"}', 'Bearer scope="basic"')
        if self.refusal == 401:
            return _response(
                401, "Unauthorized", b'{"error":"invalid_token"}', 'Bearer error="invalid_token"'
            )
        challenge = 'Bearer error="insufficient_scope", scope="basic write"'
        return _response(403, "Forbidden", b'{"error":"insufficient_scope"}', challenge)


def _response(status: int, reason: str, body: bytes, challenge: str | None = None) -> bytes:
    extra = f"WWW-Authenticate: {challenge}\r\n" if challenge else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: keep-alive\r\n{extra}\r\n"
    )
    return head.encode() + body


def _bearer(head: bytes) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "authorization" and value.strip().startswith("Bearer "):
            return value.strip()[len("Bearer ") :]
    return None


async def _skip_body(stream: SocketStream, head: bytes, buffered: bytes) -> bytes:
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(buffered) < length:
        buffered += await stream.receive()
    return buffered[length:]


def _reset(stream: SocketStream) -> None:
    """Close with RST (SO_LINGER 0), as a server closing a socket with a request unread does."""
    sock = stream.extra(SocketAttribute.raw_socket)  # noqa: S610 - anyio typed attributes, not Django
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class SlowSignIn:
    """A token provider whose new token takes ``SIGN_IN`` seconds (a person in the browser)."""

    def __init__(self, at_hand: str | None) -> None:
        self.at_hand = at_hand

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        if self.at_hand is not None:
            return self.at_hand
        await anyio.sleep(SIGN_IN)
        return "fresh"

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        self.at_hand = None
        return True

    async def silent(self) -> str | None:
        return self.at_hand


@pytest.fixture
async def server() -> AsyncIterator[tuple[KeepAliveServer, str]]:
    app = KeepAliveServer()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio typed attributes, not Django
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, app.serve)
        yield app, f"http://127.0.0.1:{port}/mcp"
        tg.cancel_scope.cancel()


def _client(auth: BearerAuth) -> httpx2.AsyncClient:
    # The network seam: a pool whose keep-alive is shorter than the server's, as 4 s is to 5 s.
    network = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(keepalive_expiry=CLIENT_KEEPALIVE))
    return make_client(timeout=10.0, transport=network, auth=auth)


async def test_the_retry_after_a_sign_in_prompted_by_a_401_goes_on_a_live_connection(
    server: tuple[KeepAliveServer, str],
) -> None:
    """The link's flow: sent with no token, 401, the browser sign-in, sent again with its token."""
    app, url = server
    tokens = SlowSignIn(at_hand=None)
    auth = BearerAuth(tokens, silent=tokens.silent, quiet=True, challenged=lambda _: None)
    async with _client(auth) as client:
        with recording(CallRecord()):
            response = await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 200
    assert app.resets == 0
    assert app.answered == [(1, None), (2, "fresh")]  # the quiet connection was not reused


@pytest.mark.parametrize("refusal", [401, 403])
async def test_the_retry_after_renewing_a_refused_token_goes_on_a_live_connection(
    server: tuple[KeepAliveServer, str], refusal: int
) -> None:
    """A token at hand refused (expired: 401; too narrow: 403 ``insufficient_scope``), renewed by
    a sign-in that outlasts the server's keep-alive, and the request sent once more."""
    app, url = server
    app.refusal = refusal
    async with _client(BearerAuth(SlowSignIn(at_hand="stale"), step_up_replays=True)) as client:
        with recording(CallRecord()):
            response = await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call"})
    assert response.status_code == 200
    assert app.resets == 0
    assert app.answered == [(1, "stale"), (2, "fresh")]
