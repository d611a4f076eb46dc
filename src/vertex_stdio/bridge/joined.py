"""An open connection of the link (``RemoteLink.joined``), for requests sent beside its SDK client.

``connect``'s lean calls (``bridge/leancall.py``) go on the session the link's SDK client opened:
its HTTP client (the same bearer, caps and headers), its session id, and the SDK client's own
steps for what a request carries (``message``: its model's JSON, stamped for the session's
protocol version) and what an answer must be (``result``: checked and trimmed as the SDK client
does).  Those steps are the SDK's own private functions, so a new SDK changes both paths alike;
tests/bridge/test_connect_lean_calls.py compares the two byte for byte.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import httpx2
from mcp import Client
from mcp.client import session as sdk_session
from mcp.types import Request
from mcp_types.methods import validate_server_result

RawRequest = Request[dict[str, Any] | None, str]
"""A request whose params are sent as given (an unparameterised ``Request`` would drop them)."""


@dataclass(frozen=True)
class Joined:
    """An open connection's HTTP client, session id header and SDK client (``RemoteLink.joined``)."""

    http: httpx2.AsyncClient
    headers: dict[str, str]
    client: Client

    @property
    def version(self) -> str | None:
        """The protocol version the session speaks."""
        return self.client.protocol_version

    def result(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` as the SDK client's ``send_request`` gives it back: checked against the session's
        version (``ValidationError``), a later revision's fields dropped (its own steps, so a
        new SDK's changes reach both paths; tests/bridge/test_connect_lean_calls.py compares)."""
        sdk_session._clamp_inbound_ttl(raw)
        version = self.client.session._negotiated_version or "2025-11-25"
        with contextlib.suppress(KeyError):
            validate_server_result(method, version, raw)
        foreign = sdk_session._later_revision_fields(method, version)
        if not foreign.isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in foreign}
        return raw

    def message(self, method: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The params and headers the SDK client would send ``method`` with on this session (its
        request model's JSON, stamped for the protocol version: ``_meta`` and headers of the era)."""
        data = RawRequest(method=method, params=dict(params) or None).model_dump(
            by_alias=True, mode="json", exclude_none=True
        )
        options: dict[str, Any] = {}
        self.client.session._stamp(data, cast(Any, options))  # the SDK client stamps its requests so
        return data.get("params") or {}, {**self.headers, **options.get("headers", {})}


class SessionNote:
    """The session id header of the link's newest Streamable HTTP connection (``headers``: None
    until known; ``{}`` for a connection without a session), from hooks on its HTTP client.

    Known once ``initialize`` is answered: the id the remote gave then (kept so by the SDK
    client), or, on a connection without ``initialize`` (2026-07-28), the one its later requests
    carry (none).  Only the newest connection is noted: an earlier one's late requests (its
    goodbye, a DELETE on the session the remote forgot) never are.
    """

    def __init__(self) -> None:
        self.headers: dict[str, str] | None = None
        self._http: httpx2.AsyncClient | None = None

    def watch(self, http: httpx2.AsyncClient) -> None:
        """Note ``http``'s session from now on: it is the newest connection's client."""
        self.headers, self._http = None, http
        http.event_hooks["request"].append(partial(self._sent, http))
        http.event_hooks["response"].append(partial(self._answered, http))

    def on(self, session_id: str) -> bool:
        """Whether the newest connection is on the session ``session_id``."""
        return (self.headers or {}).get("Mcp-Session-Id") == session_id

    async def _sent(self, http: httpx2.AsyncClient, request: httpx2.Request) -> None:
        if http is self._http and "mcp-protocol-version" in request.headers:  # past its opening
            self._note(request.headers.get("mcp-session-id"))

    async def _answered(self, http: httpx2.AsyncClient, response: httpx2.Response) -> None:
        request = response.request  # ``initialize``: the one POST without a protocol version
        opening = request.method == "POST" and "mcp-protocol-version" not in request.headers
        if http is self._http and opening and response.is_success:
            self._note(response.headers.get("mcp-session-id"))

    def _note(self, session_id: str | None) -> None:
        noted = {"Mcp-Session-Id": session_id} if session_id is not None else {}
        if noted != self.headers:
            self.headers = noted
