"""What the remote asks the person: its requests relayed to the local client, the answers back.

The remote may send ``elicitation/create`` (form or URL), ``sampling/createMessage`` and
``roots/list`` while a request of ours is open.  The upstream connection declares exactly the
capabilities the local client declared (the SDK client declares one for each callback given), so
the remote asks only what the person's client can answer; each request is sent to the local
client as the remote wrote it and its answer (or its JSON-RPC error) goes back unchanged.  A
request the local client cannot take (no back-channel, gone) answers the spec's error, never hangs.
The local client's ``notifications/roots/list_changed`` goes on to the remote (``roots_changed``),
as the roots capability declared for it (always with ``listChanged``) promises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from mcp import Client, MCPError, types
from mcp.client.session import ClientRequestContext
from mcp.server.session import ServerSession
from mcp_types.methods import CLIENT_NOTIFICATIONS
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)


class Local(Protocol):
    """What ``LocalPeer`` uses of the local session: the SDK's ``ServerSession``, or the early
    loop's stand-in for it (``bridge/earlyrelay.py``)."""

    @property
    def client_capabilities(self) -> types.ClientCapabilities | None: ...

    async def send_request(self, request: types.ServerRequest, result_type: type[R]) -> R: ...


class LocalPeer:
    """The local client, as the upstream connection's callbacks see it."""

    def __init__(self, session: Callable[[], Local | None]) -> None:
        self._session = session

    def capabilities(self) -> types.ClientCapabilities | None:
        """What the local client declared in its ``initialize`` (None before it did)."""
        session = self._session()
        return session.client_capabilities if session is not None else None

    def callbacks(self) -> dict[str, Any]:
        """The SDK ``Client`` callbacks for the capabilities the local client declared."""
        caps = self.capabilities()
        found: dict[str, Any] = {}
        if caps is None:
            return found
        if caps.elicitation is not None:
            found["elicitation_callback"] = self._elicit
        if caps.sampling is not None:
            found["sampling_callback"] = self._sample
            found["sampling_capabilities"] = caps.sampling
        if caps.roots is not None:
            found["list_roots_callback"] = self._roots
        return found

    async def _elicit(
        self, _ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return await self._relay(types.ElicitRequest(params=params), types.ElicitResult)

    async def _sample(
        self, _ctx: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        return await self._relay(types.CreateMessageRequest(params=params), types.CreateMessageResult)

    async def _roots(self, _ctx: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        return await self._relay(types.ListRootsRequest(), types.ListRootsResult)

    async def _relay(self, request: Any, result: type[R]) -> R | types.ErrorData:
        session = self._session()
        method = request.method
        if session is None:
            return types.ErrorData(code=types.METHOD_NOT_FOUND, message=f"{method}: no local client to ask")
        try:
            answer = await session.send_request(request, result)
        except MCPError as exc:
            log.info("the local client answered %s with error %s", method, exc.error.code)
            return exc.error
        except ValidationError:
            return types.ErrorData(
                code=types.INTERNAL_ERROR, message=f"the local client's {method} answer is malformed"
            )
        except Exception as exc:  # noqa: BLE001 - no back-channel, or the client went away: answer, never hang
            log.info("%s could not be relayed to the local client (%s)", method, type(exc).__name__)
            return types.ErrorData(
                code=types.INTERNAL_ERROR, message=f"{method} could not reach the local client"
            )
        log.info("relayed %s from the remote to the local client", method)
        return answer


async def roots_changed(local: ServerSession, remote: Client | None) -> None:
    """The local client's roots changed: told to the remote on the open connection (``remote``;
    none is opened for it) when the local client declared roots -- so the connection declared them,
    with ``listChanged`` (the SDK client always says so) -- and its version has the notification."""
    caps = local.client_capabilities
    if remote is None or caps is None or caps.roots is None:
        return
    if ("notifications/roots/list_changed", remote.protocol_version or "") not in CLIENT_NOTIFICATIONS:
        return
    await remote.session.send_notification(types.RootsListChangedNotification())
    log.info("told the remote that the local client's roots changed")
