"""The OAuth 2.0 device authorization grant (RFC 8628), for a person whose browser is elsewhere.

``begin`` asks the device authorization endpoint for a user code (with the RFC 8707 ``resource``);
``DeviceFlow.complete`` then polls the token endpoint every ``interval`` seconds (five more after
each ``slow_down``; doubled after a network failure) until the person approves (tokens),
declines (``access_denied``) or the code expires (``expired_token``, or its ``expires_in`` has
passed).  The device code is a secret: it goes only to the token endpoint, is scrubbed from any
error text, and is never shown or logged.  Clock and sleep are seams for tests.

What the server says is shown on a terminal, so it is checked first: ``user_code`` and the
verification URIs must be printable ASCII of bounded length (an escape sequence could clear the
screen or hide a link), the URIs https (http on loopback only), and a page on another host than
the authorization server's is named and warned about.  The poll interval is at least 1 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vertex_stdio.core.errors import AuthRequired, UpstreamError, UpstreamUnavailable
from vertex_stdio.core.urls import is_loopback_host
from vertex_stdio.oauth.discovery import DEVICE_GRANT, ClientSource
from vertex_stdio.oauth.io.http import OAuthFailed, OAuthHttp
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.core import Tokens, parse_token_response
from vertex_stdio.oauth.protocol.metadata import Client, Target

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 1.0
MAX_USER_CODE = 64
MAX_URI = 2048
SLOW_DOWN_STEP = 5.0
MAX_INTERVAL = 60.0
REGISTRATION_REDIRECT = "http://127.0.0.1/callback"
"""The loopback redirect a registration must name; the device grant itself never redirects."""

Sleep = Callable[[float], Awaitable[None]]


class DeviceCodeInvalid(UpstreamError):
    """The device authorization answer cannot be used (missing or malformed fields)."""


@dataclass(frozen=True)
class DeviceCode:
    """What the device authorization endpoint answered (RFC 8628 §3.2)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


def _text(body: dict[str, object], name: str, limit: int = MAX_URI) -> str:
    """A field that is shown to the person: printable ASCII (no control or escape characters)."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise DeviceCodeInvalid(f"The authorization server's device sign-in answer has no {name}.")
    if len(value) > limit or not (value.isascii() and value.isprintable()):
        raise DeviceCodeInvalid(
            f"The authorization server's device sign-in {name} is not printable text of at most {limit} "
            "characters (it may hold terminal escape sequences); it was not shown. Use `--no-browser` instead."
        )
    return value


def _link(name: str, value: str) -> str:
    """An https page (http on loopback only), without credentials in it."""
    parts = urlsplit(value)
    plain_ok = parts.scheme == "http" and parts.hostname is not None and is_loopback_host(parts.hostname)
    if not parts.hostname or not (parts.scheme == "https" or plain_ok) or parts.username or parts.password:
        raise DeviceCodeInvalid(
            f"The authorization server's device sign-in {name} is not an https address ({value}); "
            "it was not shown. Use `--no-browser` instead."
        )
    return value


def _seconds(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return float(value)


def parse_device_code(body: object) -> DeviceCode:
    """Validate a device authorization answer; ``interval`` defaults to 5 s (RFC 8628 §3.2)."""
    if not isinstance(body, dict):
        raise DeviceCodeInvalid("The authorization server's device sign-in answer is not a JSON object.")
    complete = None
    if body.get("verification_uri_complete") is not None:
        complete = _link("verification_uri_complete", _text(body, "verification_uri_complete"))
    device_code = body.get("device_code")
    if not isinstance(device_code, str) or not device_code:
        raise DeviceCodeInvalid("The authorization server's device sign-in answer has no device_code.")
    return DeviceCode(
        device_code=device_code,
        user_code=_text(body, "user_code", MAX_USER_CODE),
        verification_uri=_link("verification_uri", _text(body, "verification_uri")),
        verification_uri_complete=complete,
        expires_in=_seconds(body.get("expires_in"), 600.0),
        interval=min(max(_seconds(body.get("interval"), DEFAULT_INTERVAL), MIN_INTERVAL), MAX_INTERVAL),
    )


def foreign_host(code: DeviceCode, issuer: str) -> str | None:
    """The page's host when it (or the pre-filled page's) is not the authorization server's, else None."""
    expected = (urlsplit(issuer).hostname or "").lower()
    for uri in (code.verification_uri, code.verification_uri_complete):
        host = (urlsplit(uri).hostname or "").lower() if uri else expected
        if host != expected:
            return host
    return None


class DeviceFlow:
    """A device sign-in whose user code is ready; ``complete`` polls until it ends."""

    def __init__(
        self,
        http: OAuthHttp,
        target: Target,
        client: Client,
        code: DeviceCode,
        scopes: tuple[str, ...],
        *,
        login: str,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.client = client
        self.scopes = scopes
        self.user_code = code.user_code
        self.verification_uri = code.verification_uri
        self.url = code.verification_uri_complete or code.verification_uri
        self.host = urlsplit(code.verification_uri).hostname or ""
        self.foreign_host = foreign_host(code, target.server.issuer)
        self._http = http
        self._login = login
        self._code = code
        self._sleep = sleep
        self._monotonic = monotonic

    async def complete(self, now: Callable[[], float]) -> Tokens:
        """Poll the token endpoint until the person approves; ``AuthRequired`` when it ends otherwise."""
        interval = self._code.interval
        deadline = self._monotonic() + self._code.expires_in
        while True:
            await self._sleep(interval)
            if self._monotonic() >= deadline:
                raise _expired(self._login)
            try:
                return await self._poll(now)
            except OAuthFailed as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval = min(interval + SLOW_DOWN_STEP, MAX_INTERVAL)
                    continue
                raise _ended(exc, self._login) from None
            except UpstreamUnavailable:
                # RFC 8628 §3.5: back off after a failed connection; the code may still be approved.
                interval = min(interval * 2, MAX_INTERVAL)
                log.info("the sign-in server did not answer a device poll; next poll in %.0f s", interval)

    async def _poll(self, now: Callable[[], float]) -> Tokens:
        body = await self._http.post_form(
            self.target.server.token_endpoint,
            {
                "grant_type": DEVICE_GRANT,
                "device_code": self._code.device_code,
                "client_id": self.client.client_id,
                "resource": self.target.resource,
            },
            secrets=(self._code.device_code,),
        )
        return parse_token_response(body, now=now(), requested=self.scopes)

    def paste(self, text: str) -> str | None:
        """Nothing is pasted in a device sign-in: it is approved in the browser."""
        return "Nothing needs pasting here: approve the sign-in in the browser with the code shown."

    async def aclose(self) -> None:
        """Nothing to release (no listener); the device code dies with this object."""


def _expired(login: str) -> AuthRequired:
    return AuthRequired(
        "The sign-in code expired before it was approved, so you are not signed in. "
        f"Run `{login} --device` again for a new code."
    )


def _ended(exc: OAuthFailed, login: str) -> AuthRequired:
    if exc.error == "expired_token":
        return _expired(login)
    if exc.error == "access_denied":
        return AuthRequired(
            "The sign-in was declined in the browser, so you are not signed in. "
            f"Run `{login} --device` when you want to connect."
        )
    return AuthRequired(f"The device sign-in did not complete: {exc.message} Try `{login}` again.")


async def begin(
    http: OAuthHttp,
    target: Target,
    client_for: ClientSource,
    scopes: tuple[str, ...],
    profile: SignInProfile,
    *,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeviceFlow:
    """Ask for a user code (nothing is polled yet); ``AuthRequired`` when the server has no device grant."""
    endpoint = target.server.device_authorization_endpoint
    login = profile.advice.login_command
    if not endpoint:
        raise AuthRequired(
            f"The authorization server {target.server.issuer} does not offer device sign-in. "
            f"Use `{login} --no-browser` and paste the address back instead."
        )
    client = await client_for(REGISTRATION_REDIRECT)
    form = {"client_id": client.client_id, "resource": target.resource}
    if scopes:
        form["scope"] = " ".join(scopes)
    try:
        body = await http.post_form(endpoint, form, secrets=())
    except OAuthFailed as exc:
        if exc.error not in ("unauthorized_client", "invalid_client"):
            raise
        raise AuthRequired(
            f"The authorization server does not let this app's client ({client.client_id}) use device "
            f"sign-in. Use `{login} --no-browser` and paste the address back instead."
        ) from None
    code = parse_device_code(body)
    log.info("device sign-in started at %s", target.server.issuer)
    return DeviceFlow(http, target, client, code, scopes, login=login, sleep=sleep, monotonic=monotonic)
