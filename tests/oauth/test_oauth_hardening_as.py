"""Hardening, OAuth part 1: a faulty or hostile authorization server, and the redirect receiver under attack.

Every case runs over real HTTP on 127.0.0.1 (node-oidc-provider, small static servers, the real
loopback listener).  Figures printed with ``-s`` are the ones in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from oauth_server.harness import AuthServer, StaticServer, auth_server, node_ready, protect, static_server
from oauth_server.helpers import bind_browser, figure, make

from vertex_stdio.core.credentials import Challenge
from vertex_stdio.core.errors import AuthRequired, UpstreamError, UpstreamUnavailable
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth import provider as provider_module
from vertex_stdio.oauth.io.http import MAX_BODY
from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

PRM = "/.well-known/oauth-protected-resource/mcp"
ASM = "/.well-known/oauth-authorization-server"


@pytest.fixture
def opened() -> list[str]:
    """URLs a provider tried to open in a browser."""
    return []


def quiet(mcp_url: str, tmp_path: Path, opened: list[str], **settings: object) -> OAuthTokenProvider:
    """A provider whose 'browser' only records the URL."""

    async def opener(url: str) -> bool:
        opened.append(url)
        return True

    values: dict[str, object] = {"mcp_url": mcp_url, "signin_timeout": 2.0, **settings}
    s = Settings(**values).validated()  # type: ignore[arg-type]
    return OAuthTokenProvider(
        vertexsms_profile(s), store=TokenStore(tmp_path / "state", MemorySecrets()), opener=opener
    )


def raw_route(server: StaticServer, path: str, body: bytes, status: int = 200, **headers: str) -> None:
    server.routes[path] = (status, {"Content-Type": "application/json", **headers}, body)


def as_body(issuer: str, real: dict[str, object], **changes: object) -> dict[str, object]:
    body = {**real, "issuer": issuer, **changes}
    return {k: v for k, v in body.items() if v is not None}


# -- authorization-server faults --------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("prm", b"<html>not json</html>"),
        ("prm", b"[1, 2, 3]"),
        ("prm", b'{"resource": 5, "authorization_servers": ["x"]}'),
        ("prm", b'{"resource": "%(mcp)s", "authorization_servers": "%(as)s"}'),
        ("prm", b'{"resource": "%(mcp)s"}'),
        ("as", b"{truncated"),
        ("as", b'{"issuer": "%(as)s"}'),
        (
            "as",
            b'{"issuer": "%(as)s", "authorization_endpoint": 7, "token_endpoint": "%(as)s/t",'
            b' "code_challenge_methods_supported": ["S256"]}',
        ),
        (
            "as",
            b'{"issuer": "%(as)s", "authorization_endpoint": "%(as)s/a", "token_endpoint": ["%(as)s/t"],'
            b' "code_challenge_methods_supported": ["S256"]}',
        ),
        (
            "as",
            b'{"issuer": "%(as)s", "authorization_endpoint": "%(as)s/a", "token_endpoint": "%(as)s/t",'
            b' "code_challenge_methods_supported": "S256"}',
        ),
        (
            "as",
            b'{"authorization_endpoint": "%(as)s/a", "token_endpoint": "%(as)s/t",'
            b' "code_challenge_methods_supported": ["S256"]}',
        ),
    ],
)
async def test_malformed_metadata_is_refused_before_any_browser(
    resource: StaticServer, tmp_path: Path, opened: list[str], where: str, body: bytes
) -> None:
    """Non-JSON, wrong-typed or incomplete metadata is a clear MetadataInvalid error; nothing opens."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        filled = body % {b"mcp": mcp_url.encode(), b"as": fake_as.url.encode()}
        if where == "prm":
            raw_route(resource, PRM, filled)
        else:
            raw_route(fake_as, ASM, filled)
            raw_route(fake_as, "/.well-known/openid-configuration", filled)
        provider = quiet(mcp_url, tmp_path, opened)
        try:
            with pytest.raises(UpstreamError) as caught:
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
    assert "VERTEXSMS_API_TOKEN" in caught.value.message
    assert opened == []


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["prm", "as"])
async def test_ten_megabyte_metadata_is_refused_quickly(
    resource: StaticServer, tmp_path: Path, opened: list[str], where: str
) -> None:
    """A 10 MB metadata body is cut at the 256 KiB cap and refused well under a second."""
    huge = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        raw_route(resource if where == "prm" else fake_as, PRM if where == "prm" else ASM, huge)
        provider = quiet(mcp_url, tmp_path, opened)
        start = time.monotonic()
        try:
            with pytest.raises(UpstreamError, match="oversized") as caught:
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
        took = time.monotonic() - start
    figure(f"10 MB {where} metadata refused in {took:.3f} s (cap {MAX_BODY} bytes)")
    assert took < 2.0
    assert "x" * 20 not in caught.value.message
    assert opened == []


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["prm", "as"])
async def test_metadata_redirect_is_not_followed(
    as_server: AuthServer, resource: StaticServer, tmp_path: Path, opened: list[str], where: str
) -> None:
    """A 3xx on a metadata URL is never followed, to another origin or at all: sign-in stops, clearly."""
    with static_server() as fake_as, static_server() as elsewhere:
        mcp_url = protect(resource, fake_as.url)
        elsewhere.json(PRM, {"resource": mcp_url, "authorization_servers": [as_server.issuer]})
        elsewhere.json(ASM, as_body(fake_as.url, as_server.metadata()))
        if where == "prm":
            resource.routes["/mcp"] = (401, {"WWW-Authenticate": "Bearer"}, b"")
            for path in (PRM, "/.well-known/oauth-protected-resource"):
                raw_route(resource, path, b"", 302, Location=f"{elsewhere.url}{PRM}")
        else:
            for path in (ASM, "/.well-known/openid-configuration"):
                raw_route(fake_as, path, b"", 301, Location=f"{elsewhere.url}{ASM}")
        provider = quiet(mcp_url, tmp_path, opened)
        try:
            with pytest.raises(UpstreamError, match="publishes no") as caught:
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
    assert elsewhere.hits == []
    assert "VERTEXSMS_API_TOKEN" in caught.value.message
    assert opened == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("doc", "change", "refusal"),
    [
        ("prm", {"resource": "http://127.0.0.1:9/mcp"}, "describes"),
        ("prm", {"resource": "https://vertexsms.example/mcp"}, "describes"),
        ("prm", {"authorization_servers": ["http://as.example"]}, "http://"),
        ("as", {"authorization_endpoint": "http://as.example/auth"}, "http://"),
        ("as", {"token_endpoint": "http://as.example/token"}, "http://"),
        ("as", {"registration_endpoint": "http://as.example/reg"}, "http://"),
        ("as", {"revocation_endpoint": "http://as.example/revoke"}, "http://"),
    ],
)
async def test_hostile_metadata_is_refused_end_to_end(
    as_server: AuthServer,
    resource: StaticServer,
    tmp_path: Path,
    opened: list[str],
    doc: str,
    change: dict[str, object],
    refusal: str,
) -> None:
    """Another origin's resource or a plain-http endpoint off loopback stops sign-in before anything is sent."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        prm = {"resource": mcp_url, "authorization_servers": [fake_as.url]}
        resource.json(PRM, {**prm, **change} if doc == "prm" else prm)
        fake_as.json(ASM, as_body(fake_as.url, as_server.metadata(), **(change if doc == "as" else {})))
        provider = quiet(mcp_url, tmp_path, opened)
        registrations = len(as_server.journal("registration"))
        try:
            with pytest.raises(UpstreamError, match=refusal):
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
    assert opened == []
    assert len(as_server.journal("registration")) == registrations


@pytest.mark.anyio
@pytest.mark.parametrize("header", [True, False])
async def test_issuer_change_between_runs_registers_anew(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    header: bool,
) -> None:
    """The resource moves to another AS between runs: the stored registration is not reused there."""
    mcp_url = protect(resource, as_server.issuer)
    first = make(mcp_url, tmp_path)
    try:
        old = await first.token(["sms:send"])
    finally:
        await first.aclose()
    old_client = as_server.introspect(old)["client_id"]
    with auth_server(tmp_path_factory.mktemp("as2")) as moved:
        protect(resource, moved.issuer)
        second = make(mcp_url, tmp_path, store=first.store)  # the next run: same store, new process
        try:
            assert await second.token(["sms:send"]) == old  # nothing says the AS moved yet
            challenge = Challenge(resource_metadata=f"{resource.url}{PRM}") if header else Challenge()
            assert await second.rejected(old, challenge) is True  # VertexSMS: 401 for the old token
            new = await second.token(["sms:send"])
        finally:
            await second.aclose()
        info = moved.introspect(new)
        assert info["active"] is True
        assert info["client_id"] != old_client
        assert len(moved.journal("registration", client_id=info["client_id"])) == 1
        assert len(moved.journal("grant", grant_type="authorization_code")) == 1
    clients = first.store.read_state()["clients"]
    assert clients[as_server.issuer]["client_id"] == old_client
    assert clients[moved.issuer]["client_id"] == info["client_id"]
    assert as_server.journal("grant", grant_type="refresh_token", client_id=old_client) == []


@pytest.mark.anyio
async def test_refresh_outage_keeps_the_refresh_token_and_a_later_call_spends_it(tmp_path: Path) -> None:
    """503, then temporarily_unavailable, then 200: the same refresh token is tried each time; no sign-in."""
    from test_oauth_refresh import AT, RT, provider_for, seeded  # the refresh tests' fake AS

    store, key = await seeded(tmp_path)
    seen: list[dict[str, list[str]]] = []
    fresh = {"access_token": "AT-2", "refresh_token": "RT-2", "token_type": "Bearer", "expires_in": 600}
    answers: list[tuple[int, dict[str, object]]] = [
        (503, {}),
        (400, {"error": "temporarily_unavailable"}),
        (200, fresh),
    ]
    provider = provider_for(store, answers, seen)
    try:
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable) as caught:
                await provider.token(["sms:send"])
            assert caught.value.retryable
            assert RT not in caught.value.message
            assert AT not in caught.value.message
        assert await provider.token(["sms:send"]) == "AT-2"
    finally:
        await provider.aclose()
    assert [s["refresh_token"] for s in seen] == [[RT], [RT], [RT]]
    stored = await store.load(key)
    assert stored is not None
    assert stored.refresh_token == "RT-2"
    assert provider._signin is None  # never fell back to a browser sign-in


@pytest.mark.anyio
async def test_metadata_dripped_byte_by_byte_is_cut_at_one_deadline(
    resource: StaticServer, tmp_path: Path, opened: list[str]
) -> None:
    """Metadata that drips a byte every 0.3 s (each read within the timeout) is cut at timeout + 5 s."""
    stop = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        try:
            while not stop.is_set():
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.3)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mcp_url = protect(resource, f"http://127.0.0.1:{port}")
    provider = quiet(mcp_url, tmp_path, opened, http_timeout=1.0)
    start = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable, match="in time"):
            await asyncio.wait_for(provider.token(["sms:send"]), 30)
    finally:
        took = time.monotonic() - start
        stop.set()
        await provider.aclose()
        server.close()
        await server.wait_closed()
    figure(f"dripping metadata cut after {took:.2f} s (http_timeout 1 s)")
    assert took < 8.0
    assert opened == []


# -- the redirect receiver under attack -------------------------------------------------------


async def _raw(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        await writer.wait_closed()


def _port(redirect_uri: str) -> int:
    port = urlsplit(redirect_uri).port
    assert port is not None
    return port


async def _refused(port: int) -> bool:
    try:
        await _raw(port, f"GET /callback?state=x&code=y HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
async def listening() -> AsyncIterator[tuple[Receiver, int, bytes]]:
    """A started receiver waiting for state ``the-state``, opened by the browser: its cookie line."""
    receiver = Receiver("the-state")
    await receiver.start()
    try:
        yield receiver, _port(receiver.redirect_uri), await bind_browser(receiver)
    finally:
        await receiver.aclose()


@pytest.mark.anyio
async def test_receiver_refuses_missing_state_and_oversized_heads(
    listening: tuple[Receiver, int, bytes],
) -> None:
    """No state, an empty state, 20 KB of headers and a 100 KB request line are refused; the wait goes on."""
    receiver, port, cookie = listening
    host = f"Host: 127.0.0.1:{port}\r\n".encode() + cookie
    waiting = asyncio.create_task(receiver.wait())
    for query in (b"code=C", b"state=&code=C", b"state&code=C", b"code=C&state=the-stat"):
        answer = await _raw(port, b"GET /callback?" + query + b" HTTP/1.1\r\n" + host + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), query
        assert b"not active" in answer
    many = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 100) for i in range(200))
    assert (
        await _raw(port, b"GET /callback?state=the-state HTTP/1.1\r\n" + host + many + b"\r\n")
    ).startswith(b"HTTP/1.1 431")
    line = b"GET /callback?state=the-state&pad=" + b"z" * 100_000
    assert (await _raw(port, line)).startswith(b"HTTP/1.1 431")
    assert not waiting.done()
    good = asyncio.create_task(
        _raw(port, b"GET /callback?state=the-state&code=C HTTP/1.1\r\n" + host + b"\r\n")
    )
    assert (await asyncio.wait_for(waiting, 5))["code"] == "C"
    receiver.finish("success")
    assert (await good).startswith(b"HTTP/1.1 200")
    await receiver.aclose()
    assert await _refused(port)


@pytest.mark.anyio
async def test_receiver_flood_then_the_valid_callback_still_wins(
    listening: tuple[Receiver, int, bytes],
) -> None:
    """100 silent connections and 200 concurrent bogus requests: all refused, the valid callback wins fast."""
    receiver, port, cookie = listening
    host = f"Host: 127.0.0.1:{port}\r\n".encode() + cookie + b"\r\n"
    silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
    bogus = [
        b"GET /callback?state=forged-N&code=EVIL HTTP/1.1\r\n" + host,
        b"POST /callback?state=the-state&code=EVIL HTTP/1.1\r\n" + host,
        b"GET /other?state=the-state&code=EVIL HTTP/1.1\r\n" + host,
        b"GET /callback?code=EVIL HTTP/1.1\r\n" + host,
    ]
    start = time.monotonic()
    try:
        waiting = asyncio.create_task(receiver.wait())
        flood = [asyncio.create_task(_raw(port, bogus[i % 4].replace(b"-N", b"-%d" % i))) for i in range(200)]
        answers = await asyncio.wait_for(asyncio.gather(*flood), 20)
        flooded = time.monotonic() - start
        assert not waiting.done()
        good = asyncio.create_task(_raw(port, b"GET /callback?state=the-state&code=GOOD HTTP/1.1\r\n" + host))
        query = await asyncio.wait_for(waiting, 5)
        won = time.monotonic() - start
        receiver.finish("success")
        assert (await good).startswith(b"HTTP/1.1 200")
    finally:
        for _, writer in silent:
            writer.close()
            with contextlib.suppress(ConnectionError):  # shed as idle by the receiver (reset)
                await writer.wait_closed()
    figure(f"flood: 200 bogus answered in {flooded:.2f} s; valid callback won at {won:.2f} s")
    assert query["code"] == "GOOD"
    assert all(a.split(b" ", 2)[1] in (b"400", b"404", b"405") for a in answers)
    assert not any(b"EVIL" in a or b"forged" in a for a in answers)
    assert won < 5.0
    await receiver.aclose()
    assert await _refused(port)


def _urls(tmp_path: Path) -> list[str]:
    path = tmp_path / "callbacks.txt"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.anyio
async def test_same_callback_twice_spends_the_code_once_then_the_port_closes(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The valid callback sent twice at once and once more after: one code exchange, the rest refused."""
    monkeypatch.setenv("TEST_BROWSER_MODE", "replay")
    monkeypatch.setenv("TEST_BROWSER_URLS", str(tmp_path / "callbacks.txt"))
    provider = make(protect(resource, as_server.issuer), tmp_path)
    try:
        token = await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    client_id = as_server.introspect(token)["client_id"]
    deadline = time.monotonic() + 10
    outcomes: list[str] = []
    while len(outcomes) < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        visits = browser.read_text().split("\n")
        outcomes = sorted(v.split(" ")[0] for v in visits if v.startswith(("200 ", "400 ", "refused")))
    assert outcomes[0] == "200"
    assert all(o in ("400", "refused") for o in outcomes[1:])
    assert len(outcomes) == 3
    assert len(as_server.journal("grant", grant_type="authorization_code", client_id=client_id)) == 1
    assert as_server.journal("grant_error", client_id=client_id) == []
    callbacks = _urls(tmp_path)
    assert len(set(callbacks)) == 1
    assert await _refused(_port(callbacks[0]))


@pytest.mark.anyio
async def test_listener_closes_after_a_declined_sign_in(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a failed (declined) sign-in the callback port no longer accepts connections."""
    monkeypatch.setenv("TEST_BROWSER_MODE", "decline")
    monkeypatch.setenv("TEST_BROWSER_URLS", str(tmp_path / "callbacks.txt"))
    provider = make(protect(resource, as_server.issuer), tmp_path)
    try:
        with pytest.raises(AuthRequired) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert "declined" in caught.value.message
    [callback] = _urls(tmp_path)
    assert await _refused(_port(callback))


@pytest.mark.anyio
async def test_listener_closes_when_the_sign_in_times_out_and_late_callbacks_do_nothing(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call gives up at its timeout; the listener closes at the sign-in's lifetime; a late callback is refused."""
    monkeypatch.setenv("TEST_BROWSER_MODE", "ignore")
    monkeypatch.setattr(provider_module, "SIGNIN_LIFETIME", 2.0)
    provider = make(protect(resource, as_server.issuer), tmp_path, signin_timeout=1.0)
    try:
        start = time.monotonic()
        with pytest.raises(AuthRequired, match="not completed in time") as caught:
            await provider.token(["sms:send"])
        gave_up = time.monotonic() - start
        url = caught.value.extra["authorization_url"]
        assert isinstance(url, str)
        assert "state=" not in url
        assert "code_challenge" not in url
        port = _port(url)
        opened = await _raw(
            port, f"GET {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        location = next(line for line in opened.split(b"\r\n") if line.startswith(b"Location: "))
        state = parse_qs(urlsplit(location[10:].decode()).query)["state"][0]
        signin = provider._signin
        assert signin is not None
        with pytest.raises(AuthRequired):
            await asyncio.wait_for(signin, 5)
        closed = time.monotonic() - start
        late = f"GET /callback?state={state}&code=LATE HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        with pytest.raises(ConnectionRefusedError):
            await _raw(port, late.encode())
        with pytest.raises(AuthRequired):  # no new tab within the retry pause
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    figure(f"call gave up at {gave_up:.2f} s; listener closed at {closed:.2f} s")
    assert gave_up < 3.0
    assert closed < 4.0
    assert provider.store.read_state().get("sessions", {}) == {}
