"""A lean call's bearer (``AtHand``): the token at hand, never a sign-in, never a renewal; and
``note_ended``, the 404 to a session noted on the call's record.

SDK-free: ``connect``'s calls on the steady lean path (``leancall.py``) and its first calls
before the SDK is loaded (``earlycall.py``) both send with ``AtHand``; the first calls and the
link's SDK client (``link.py``) both note a session's end with ``note_ended``, so the steady
state words it alike (``edge.session_ended``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx2

from vertex_stdio.core.calls import CallRecord, current
from vertex_stdio.core.credentials import parse_challenge
from vertex_stdio.core.errors import AuthRequired

if TYPE_CHECKING:
    from vertex_stdio.bridge.edge import Tokens


class AtHand(httpx2.Auth):
    """A lean call's bearer: the token at hand (never a sign-in, never a renewal), and the provider
    told of it as the link's ``BearerAuth`` tells it when it does not send the request again.

    Accepted: ``accepted``.  Refused (401) when it is not to be sent again: noted on the record
    (``refused``, ``challenge``) and ``rejected``, as there.  Any other refusal is left untold: the
    call then goes the SDK path's way, whose own refusal is told and renewed once, as always.
    """

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        record = current() or CallRecord()
        try:
            token = await self._tokens.silent_token()
        except AuthRequired:
            token = None
        if token is not None:
            record.sent.append(token)
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if token is None:
            return
        if response.status_code not in (401, 403):
            self._tokens.accepted(token)
        elif response.status_code == 401 and not record.replay:
            await response.aread()
            record.challenge = challenge = parse_challenge(response.headers.get("www-authenticate"))
            record.refused = token
            await self._tokens.rejected(token, challenge)

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("async only")


async def note_ended(response: httpx2.Response) -> None:
    """A 404 to a request (a method and an id) that carried a session id: the remote no longer
    knows that session (the MCP spec, Streamable HTTP "Session Management"); noted on the call's
    record (``call.ended``).  Without a session id a 404 is the HTTP spelling of "method not
    found", as before.  An ``httpx2`` response hook."""
    if response.status_code != 404:
        return
    call, session_id = current(), response.request.headers.get("mcp-session-id")
    if call is None or session_id is None:
        return
    try:
        message = json.loads(response.request.content)
    except (httpx2.RequestNotRead, ValueError):
        return
    if isinstance(message, dict) and "method" in message and "id" in message:
        call.ended = session_id
