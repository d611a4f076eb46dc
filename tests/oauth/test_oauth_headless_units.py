"""The pure parts of headless sign-in and status: pasted answers, "no display", device polling
(against a token endpoint that answers each RFC 8628 error in turn), account names and expiry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx2
import pytest

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth.device import DeviceCode, DeviceCodeInvalid, DeviceFlow, parse_device_code
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.paste import PasteRefused, pasted_answer
from vertex_stdio.oauth.protocol.account import account_of, expiry_text, span
from vertex_stdio.oauth.protocol.display import no_display
from vertex_stdio.oauth.protocol.metadata import Client, ServerMetadata, Target
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy

REDIRECT = "http://127.0.0.1:5555/callback"


def test_pasted_address_gives_its_query_and_must_be_the_redirect() -> None:
    """The whole address yields code/state/iss; another place or no code is refused with what to do."""
    query = pasted_answer(
        f" {REDIRECT}?code=C1&state=S&iss=http%3A%2F%2Fas \n", REDIRECT, "S", iss_required=True
    )
    assert query == {"code": "C1", "state": "S", "iss": "http://as"}
    for text, words in [
        ("http://127.0.0.1:5556/callback?code=C&state=S", "should start with"),
        ("https://127.0.0.1:5555/callback?code=C&state=S", "should start with"),
        (f"{REDIRECT}?state=S", "no code"),
        ("", "Nothing"),
        ("two words", "neither"),
        ("C1", "whole address"),
        ("x" * 9000, "too long"),
    ]:
        with pytest.raises(PasteRefused, match=words):
            pasted_answer(text, REDIRECT, "S", iss_required=True)
    assert pasted_answer(f"{REDIRECT}?error=access_denied&state=S", REDIRECT, "S", iss_required=False)[
        "error"
    ]


def test_bare_code_stands_for_this_sign_in_only_without_iss() -> None:
    """A bare code carries this sign-in's own state; refused when the server always sends iss."""
    assert pasted_answer("C1", REDIRECT, "S", iss_required=False) == {"code": "C1", "state": "S"}


@pytest.mark.parametrize(
    ("env", "platform", "headless"),
    [
        ({}, "linux", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "a 1 b 22"}, "linux", True),
        ({"SSH_TTY": "/dev/pts/1"}, "darwin", True),
        ({}, "darwin", False),
        ({}, "win32", False),
        ({"BROWSER": "w3m", "SSH_CONNECTION": "a 1 b 22"}, "linux", False),
        ({}, "freebsd14", True),
    ],
)
def test_no_display_means_ssh_or_a_unix_desktop_without_display(
    env: dict[str, str], platform: str, headless: bool
) -> None:
    """SSH anywhere, or Linux/BSD without DISPLAY/WAYLAND_DISPLAY; an explicit BROWSER wins."""
    assert (no_display(env, platform) is not None) is headless


def test_device_answer_is_validated_and_interval_defaults_to_five_seconds() -> None:
    """Missing fields are refused; interval defaults to 5 s; the device code never shows in repr."""
    code = parse_device_code(
        {"device_code": "DC-SECRET", "user_code": "AB-CD", "verification_uri": "https://as.example/device"}
    )
    assert code.interval == 5.0
    assert code.expires_in == 600.0
    assert "DC-SECRET" not in repr(code)
    with pytest.raises(DeviceCodeInvalid, match="user_code"):
        parse_device_code({"device_code": "D", "verification_uri": "https://as.example/device"})
    with pytest.raises(DeviceCodeInvalid, match="verification_uri"):
        parse_device_code({"device_code": "D", "user_code": "U", "verification_uri": "http://evil.example/d"})


class FakeTime:
    """A monotonic clock that moves only when the flow sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _flow(
    answers: Iterator[tuple[int, dict[str, object]]],
    seen: list[dict[str, str]],
    clock: FakeTime,
    expires: float = 600.0,
) -> tuple[DeviceFlow, OAuthHttp]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        status, body = next(answers)
        return httpx2.Response(status, json=body)

    policy = UrlPolicy("http://127.0.0.1:9/mcp")  # loopback: no DNS; the transport answers
    http = OAuthHttp(timeout=5, policy=policy, transport=httpx2.MockTransport(handle))
    server = ServerMetadata("http://127.0.0.1:8", "http://127.0.0.1:8/auth", "http://127.0.0.1:8/token")
    target = Target("http://127.0.0.1:9/mcp", server)
    code = DeviceCode("DC-SECRET", "AB-CD", "http://127.0.0.1:8/device", None, expires, 5.0)
    flow = DeviceFlow(
        http,
        target,
        Client("cid", server.issuer),
        code,
        ("sms:send",),
        login="vertex-stdio login",
        sleep=clock.sleep,
        monotonic=clock,
    )
    return flow, http


def _error(name: str) -> tuple[int, dict[str, object]]:
    return 400, {"error": name, "error_description": "about DC-SECRET"}


@pytest.mark.anyio
async def test_device_polling_waits_slows_down_and_sends_the_resource() -> None:
    """pending, slow_down (+5 s), pending, then tokens: polls at 5, 10, 10, 10 s, each with resource."""
    clock, seen = FakeTime(), []
    answers = iter(
        [
            _error("authorization_pending"),
            _error("slow_down"),
            _error("authorization_pending"),
            (200, {"access_token": "AT", "token_type": "Bearer", "expires_in": 60}),
        ]
    )
    flow, http = _flow(answers, seen, clock)
    try:
        tokens = await flow.complete(lambda: 1000.0)
    finally:
        await http.aclose()
    assert tokens.access_token == "AT"
    assert tokens.expires_at == 1060.0
    assert clock.sleeps == [5.0, 5.0, 10.0, 10.0]
    assert all(s["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code" for s in seen)
    assert all(s["resource"] == "http://127.0.0.1:9/mcp" and s["device_code"] == "DC-SECRET" for s in seen)


@pytest.mark.anyio
@pytest.mark.parametrize(("error", "words"), [("access_denied", "declined"), ("expired_token", "expired")])
async def test_device_polling_ends_on_denial_or_expiry_without_the_device_code(
    error: str, words: str
) -> None:
    """access_denied and expired_token end the wait with AUTH_REQUIRED; the device code is scrubbed."""
    clock, seen = FakeTime(), []
    flow, http = _flow(iter([_error("authorization_pending"), _error(error)]), seen, clock)
    try:
        with pytest.raises(AuthRequired, match=words) as caught:
            await flow.complete(lambda: 0.0)
    finally:
        await http.aclose()
    assert "DC-SECRET" not in caught.value.message
    assert len(seen) == 2


@pytest.mark.anyio
async def test_device_polling_stops_when_the_code_has_expired_locally() -> None:
    """A server that stays pending forever: polling stops once expires_in has passed."""
    clock, seen = FakeTime(), []
    flow, http = _flow(iter([_error("authorization_pending")] * 100), seen, clock, expires=22.0)
    try:
        with pytest.raises(AuthRequired, match="expired"):
            await flow.complete(lambda: 0.0)
    finally:
        await http.aclose()
    assert len(seen) == 4  # at 5, 10, 15 and 20 s; the fifth sleep ends past 22 s


def _jwt(claims: dict[str, object]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{part}.sig"


def test_account_comes_from_the_jwt_claims_in_order() -> None:
    """email, then preferred_username, then sub; an opaque token names no one."""
    assert account_of(_jwt({"sub": "u1", "email": "a@example.com"})) == ("a@example.com", "email")
    assert account_of(_jwt({"sub": "u1", "preferred_username": "ann"})) == ("ann", "preferred_username")
    assert account_of(_jwt({"sub": "u1"})) == ("u1", "sub")
    assert account_of("opaque-token") is None
    assert account_of("a.!!!.c") is None
    assert account_of(_jwt({"sub": "line\nbreak"})) is None


def test_expiry_reads_as_local_time_and_time_left() -> None:
    """In the future: time left; in the past: how long ago and what happens next."""
    assert "(in 9 min)" in expiry_text(1000.0 + 570, 1000.0, refreshable=True)
    assert "ago; renewed with the refresh token" in expiry_text(1000.0, 1130.0, refreshable=True)
    assert "a new sign-in is needed" in expiry_text(1000.0, 1130.0, refreshable=False)
    assert expiry_text(None, 0.0, refreshable=True) == "expiry not stated by the server"
    assert [span(s) for s in (5, 600, 7500, 3 * 86400)] == ["5 s", "10 min", "2 h 5 min", "3 days"]
