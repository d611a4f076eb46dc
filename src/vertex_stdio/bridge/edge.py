"""The HTTP edge of the link to a remote MCP server: one record per request, the bearer sign-in
(renewed once after a 401, never for a request that must not be sent twice), and a cap on answers.

The SDK sends each request's POST in the caller's context, so ``CURRENT`` (the caller's ``Call``)
tells the auth flow and the transport whose request they are handling; what they see is noted
there and read back by ``RemoteLink`` to word the error.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Protocol

import httpx2

from vertex_stdio.core.credentials import Challenge, SignInPrompt, parse_challenge
from vertex_stdio.core.errors import AuthError, AuthInvalid, AuthRequired, InsufficientScope
from vertex_stdio.core.http import CappedStream


class Tokens(Protocol):
    """What the link needs from the sign-in (``OAuthTokenProvider`` provides it)."""

    async def token(self, scopes: list[str], prompt: SignInPrompt | None = None) -> str: ...

    async def silent_token(self) -> str | None: ...

    async def rejected(self, token: str, challenge: Challenge) -> bool: ...

    def accepted(self, token: str) -> None: ...


@dataclass
class Call:
    """How the current request may get a token, and what HTTP said while it ran."""

    interactive: bool
    prompt: SignInPrompt | None = None
    replay: bool = True  # False: once the request itself is out, it is never sent again
    sending: bool = False  # the request itself is going out (the connection is open)
    refused_once: bool = False  # the request itself was answered 401/403 (the remote may have acted)
    status: int | None = None
    challenge: Challenge | None = None
    failure: Exception | None = None
    auth_error: AuthRequired | None = None
    oversized: bool = False

    def noted(self, response: httpx2.Response) -> None:
        """Keep what an answer said about the sign-in (an accepted retry clears an earlier 401)."""
        if response.status_code in (401, 403):
            self.status = response.status_code
            self.challenge = parse_challenge(response.headers.get("www-authenticate"))
        else:
            self.status = self.challenge = None


CURRENT: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "vertex_stdio_connect_call", default=None
)


class Bearer(httpx2.Auth):
    """``Authorization: Bearer`` from the sign-in; after a 401/403 the provider renews once."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    async def _get(self, call: Call | None) -> str | None:
        """A token for this request; None (noted on ``call``) when none can be had now.

        Never raises: an exception here would surface from deep inside the SDK's transport.
        """
        try:
            if call is not None and call.interactive:
                return await self._tokens.token([], call.prompt)
            return await self._tokens.silent_token()
        except AuthRequired as exc:
            if call is not None:
                call.auth_error = exc
            return None

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        call = CURRENT.get()
        token = await self._get(call)
        if token is None:
            response = yield request
            if call is not None:
                call.noted(response)
            return
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if not await self._told(call, token, request, response):
            return
        if call is not None and call.refused_once:
            return  # the remote may have acted before refusing: never sent twice
        fresh = await self._get(call)
        if fresh is None or fresh == token:
            return
        request.headers["Authorization"] = f"Bearer {fresh}"
        response = yield request
        # Refused again: the provider learns it (a new sign-in's token counts); not sent a third time.
        await self._told(call, fresh, request, response)

    async def _told(
        self, call: Call | None, token: str, request: httpx2.Request, response: httpx2.Response
    ) -> bool:
        """Tell the provider how ``token`` fared; True when it was refused in a way renewal may fix.

        Told even when another request already reported this token (then it renews nothing):
        what counts is whether a different token is at hand now (or for the next request).
        """
        if call is not None:
            call.noted(response)
        if response.status_code not in (401, 403):
            self._tokens.accepted(token)
            return False
        if call is not None and call.sending and not call.replay and request.method == "POST":
            call.refused_once = True  # the request itself went out and was refused
        challenge = parse_challenge(response.headers.get("www-authenticate"))
        if response.status_code == 403 and challenge.error != "insufficient_scope":
            return False
        await self._tokens.rejected(token, challenge)
        return True

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the remote MCP client is async only")


class Noting(httpx2.AsyncBaseTransport):
    """Notes transport failures for the current request (the SDK folds them into generic errors),
    and caps each answer at ``limit`` bytes."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        call = CURRENT.get()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            if call is not None:
                call.failure = exc
            raise
        if isinstance(response.stream, httpx2.AsyncByteStream):
            per_event = "text/event-stream" in response.headers.get("content-type", "")
            response.stream = CappedStream(
                response.stream, self._limit, per_event=per_event, exceeded=lambda: _oversized(call)
            )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _oversized(call: Call | None) -> None:
    if call is not None:
        call.oversized = True


def auth_failure(host: str, call: Call) -> AuthError:
    """A 401/403 as the contract's error.

    A request that must not be sent twice carries ``outcome``: ``unknown`` when it went out and
    was refused (the remote may have acted first), ``refused`` when it never went out.
    """
    kind: type[AuthError] = AuthInvalid
    if call.status == 403 and call.challenge is not None and call.challenge.error == "insufficient_scope":
        kind, words = InsufficientScope, f"{host} needs more permissions than were granted (HTTP 403)."
    elif call.status == 403:
        words = f"{host} refused the request (HTTP 403)."
    else:
        words = f"{host} did not accept the sign-in (HTTP 401)."
    outcome = None
    if call.refused_once:
        outcome = "unknown"
        words += (
            f" The call was not sent again: it is not read-only, and {host} may have acted on it "
            f"before refusing. Check in {host} whether it took effect before calling it again."
        )
    elif not call.replay:
        outcome = "refused"
    extra = {}
    if call.auth_error is not None:  # renewing failed too: its words say what to do next
        words += f" {call.auth_error.message}"
        extra = dict(call.auth_error.extra)
    return kind(words, outcome=outcome, **extra)


def refused_after_renewal(refused: AuthInvalid, renewal: AuthRequired, call: Call) -> AuthInvalid:
    """The remote refused the sign-in and a new one cannot be had now: AUTH_INVALID, with both reasons."""
    error = AuthInvalid(f"{refused.message} {renewal.message}", **{**refused.extra, **renewal.extra})
    if not call.replay:
        error.extra.setdefault("outcome", "refused")
    return error
