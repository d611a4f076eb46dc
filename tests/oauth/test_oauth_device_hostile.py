"""A hostile device authorization endpoint on loopback: escape sequences, a page on another host,
a 1 ms polling interval.  Time is a seam (``FakeTime``): nothing here sleeps for real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from loopback import serve_in_thread

from vertex_stdio.app.signin import _instructions
from vertex_stdio.oauth.device import MIN_INTERVAL, DeviceCodeInvalid, DeviceFlow, begin, parse_device_code
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.oauth.protocol.metadata import Client, ServerMetadata, Target
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy

TOKENS = {"access_token": "AT-device-0123456789", "token_type": "Bearer", "expires_in": 60}
PENDING = {"error": "authorization_pending"}


class FakeTime:
    """A monotonic clock that moves only when the flow sleeps; it records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class HostileServer:
    """An ASGI authorization server whose device answer is ``device`` and whose token endpoint
    answers ``pending`` times ``authorization_pending`` before tokens; it counts the polls."""

    def __init__(self, device: dict[str, Any], pending: int = 3) -> None:
        self.device = device
        self.pending = pending
        self.polls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/device":
            status, body = 200, self.device
        else:
            self.polls += 1
            done = self.polls > self.pending
            status, body = (200, TOKENS) if done else (400, PENDING)
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture
def make_server() -> Iterator[Any]:
    started: list[Any] = []

    def start(device: dict[str, Any], pending: int = 3) -> tuple[HostileServer, str]:
        app = HostileServer(device, pending)
        context = serve_in_thread(app)
        started.append(context)
        return app, context.__enter__()

    yield start
    for context in started:
        context.__exit__(None, None, None)


async def _begin(base: str, clock: FakeTime) -> tuple[DeviceFlow, OAuthHttp]:
    server = ServerMetadata(
        base, f"{base}/auth", f"{base}/token", device_authorization_endpoint=f"{base}/device"
    )
    target = Target(f"{base}/mcp", server)
    http = OAuthHttp(timeout=5, policy=UrlPolicy(target.resource))
    advice = Advice(sign_in="Sign in.", file_store_setting="X_FILE", callback_port_setting="X_PORT")
    profile = SignInProfile(target.resource, "Test", "test", advice)

    async def client_for(redirect: str) -> Client:
        return Client("cid", server.issuer)

    try:
        flow = await begin(http, target, client_for, (), profile, sleep=clock.sleep, monotonic=clock)
    except BaseException:
        await http.aclose()
        raise
    return flow, http


def _device(base: str, **fields: Any) -> dict[str, Any]:
    return {
        "device_code": "DC-SECRET-7",
        "user_code": "WDJB-MJHT",
        "verification_uri": f"{base}/activate",
        **fields,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_code", "\x1b[2J\x1b[HWDJB-MJHT"),  # clear the screen
        ("user_code", "\x1b]8;;https://evil.example\x07CODE\x1b]8;;\x07"),  # an OSC 8 hyperlink
        ("user_code", "AB\u200bCD"),  # not ASCII
        ("user_code", "A" * 65),
        ("verification_uri", "https://as.example/\x1b[31mred"),
        ("verification_uri_complete", "https://as.example/d?c=1\r\nEnter 0000"),
        ("verification_uri", "https://as.example/" + "p" * 2100),
        ("verification_uri", "javascript:alert(1)"),
    ],
)
async def test_escape_sequences_and_oversized_fields_are_refused(
    make_server: Any, field: str, value: str
) -> None:
    """A user code or page with control characters, non-ASCII or beyond its bound is refused before
    anything reaches the terminal; the error names the field, never quotes the raw text."""
    app, base = make_server({})
    app.device = _device(base, **{field: value})
    with pytest.raises(DeviceCodeInvalid) as caught:
        await _begin(base, FakeTime())
    assert field in caught.value.message
    assert "\x1b" not in caught.value.message
    assert "\r" not in caught.value.message
    assert app.polls == 0


@pytest.mark.anyio
async def test_a_page_on_another_host_is_named_and_warned_about(make_server: Any) -> None:
    """The server's page is on another host than the authorization server: the instructions name
    that host and warn; the sign-in still works once approved."""
    app, base = make_server({})
    app.device = _device(base, verification_uri="https://phish.example/activate")
    clock = FakeTime()
    flow, http = await _begin(base, clock)
    try:
        shown = _instructions(flow, flow.url, "Test", opened=False)
        tokens = await flow.complete(lambda: 0.0)
    finally:
        await http.aclose()
    assert flow.foreign_host == "phish.example"
    assert "Warning: this page is on phish.example, not on the sign-in server " + base in shown
    assert tokens.access_token == TOKENS["access_token"]


@pytest.mark.anyio
async def test_a_page_on_the_servers_own_host_is_shown_without_warning(make_server: Any) -> None:
    """The usual case: the page is on the authorization server's host, shown as such, no warning."""
    app, base = make_server({})
    app.device = _device(base, verification_uri_complete=f"{base}/activate?user_code=WDJB-MJHT")
    flow, http = await _begin(base, FakeTime())
    await http.aclose()
    shown = _instructions(flow, flow.url, "Test", opened=False)
    assert flow.foreign_host is None
    assert "Warning" not in shown
    assert "(The page is on 127.0.0.1, the sign-in server's own host.)" in shown


@pytest.mark.anyio
@pytest.mark.parametrize(("interval", "expected"), [(0.001, MIN_INTERVAL), (0, 5.0), (None, 5.0), (2, 2.0)])
async def test_the_poll_interval_has_a_floor_of_one_second(
    make_server: Any, interval: float | None, expected: float
) -> None:
    """``interval: 0.001`` polls once a second, not 129 times in 6 s; absent or zero means
    RFC 8628's 5 s.  Three pending answers, then tokens: four polls, each after the interval."""
    app, base = make_server({})
    app.device = _device(base) if interval is None else _device(base, interval=interval)
    clock = FakeTime()
    flow, http = await _begin(base, clock)
    try:
        tokens = await flow.complete(lambda: 0.0)
    finally:
        await http.aclose()
    assert tokens.access_token == TOKENS["access_token"]
    assert app.polls == 4
    assert clock.sleeps == [expected] * 4


def test_a_sane_answer_is_kept_as_given() -> None:
    """Guard for the refusals above: a plain answer (code with a dash, https page) is accepted."""
    code = parse_device_code(
        {"device_code": "D", "user_code": "WDJB-MJHT", "verification_uri": "https://as.example/device"}
    )
    assert (code.user_code, code.verification_uri) == ("WDJB-MJHT", "https://as.example/device")
