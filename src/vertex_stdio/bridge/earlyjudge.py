"""The outcomes of ``connect``'s first calls (``earlycall.py``), worded by the steady state.

A first call sent before the SDK was loaded whose outcome was not sure (a result not proven
plain, a JSON-RPC error, an HTTP status, a broken connection, a timeout) is never sent again:
its line reaches the steady state's lean gate (``Handover.replay``), and ``JudgedFirst`` answers
it from its captured outcome with the steady path's own steps -- the SDK client's check of a
result (``_clamp_inbound_ttl``, ``validate_server_result``, ``_later_revision_fields``, as
``Joined.result``), the remote's notifications mid-call passed where the link's go,
``RemoteLink.failure`` (after ``leancall._as_sdk``: the failure as the SDK
would have raised it) and the proxy's wording.  A call left whole (nothing acted) is the
steady state's own lean call again; a read whose connection broke (``Captured.sent``) is the
SDK path's, sent once more only, so the remote receives it at most twice, as from the link alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from mcp import MCPError
from pydantic import ValidationError

from vertex_stdio.bridge.earlycall import Captured
from vertex_stdio.bridge.joined import sdk_result
from vertex_stdio.bridge.leancall import LeanLink, _as_sdk
from vertex_stdio.bridge.link import RemoteLink
from vertex_stdio.bridge.wire import tool_error
from vertex_stdio.core.errors import UpstreamUnavailable, VertexError
from vertex_stdio.mcpio.leancalls import LeanError, Prepared, Result

log = logging.getLogger(__name__)

LINK_WAIT = 10.0  # seconds a judged call waits for the proxy's lifespan to make its link, at most


class JudgedFirst:
    """``ToolCalls``: the captured first calls answered from their outcome, in the order their
    lines come (each first line of the same call takes the first captured), then ``lean``."""

    def __init__(
        self,
        lean: LeanLink,
        captured: list[Captured],
        link: Callable[[bool], RemoteLink | None],
        worded: Callable[[VertexError], VertexError],
        *,
        timeout: float,
    ) -> None:
        self._lean, self._captured = lean, list(captured)
        self._link, self._worded, self._timeout = link, worded, timeout

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        for index, captured in enumerate(self._captured):
            if captured.name == name and captured.arguments == arguments:
                del self._captured[index]
                if captured.sent:
                    return lambda: self._once_more(captured)
                if captured.whole:
                    break
                return lambda: self._judged(captured)
        return self._lean.prepare(name, arguments)

    async def _once_more(self, captured: Captured) -> Result | None:
        """A read the early path sent whose connection broke: the SDK path's (None), once the
        proxy's link is there, told it went out once already (``RemoteLink.sent_before``), so it
        is sent once more only: the remote gets it at most twice, as from the link path alone.
        The link is there once the proxy's lifespan made it -- the local session need not be, and
        may come only with this call (no request the SDK handles before it).  With no link within
        ``LINK_WAIT``, it is not sent again: it fails, retryable.  The remote's notifications on
        the first try are passed on first, as the link path passes each try's."""
        link = await self._ready_link(serving=False)
        if link is None:
            log.info("%s: no link to send it once more on; not sent again", captured.name)
            failure = UpstreamUnavailable(
                "The connection broke during the call, and it was not sent again. Try again."
            )
            return tool_error(self._worded(failure))
        link.sent_before(captured.name, captured.arguments)
        if captured.notifications:
            await self._ready_link(serving=True)
            for notification in captured.notifications:
                await self._lean.relay(notification)
        return None

    async def _judged(self, captured: Captured) -> Result:
        """The captured outcome as the steady lean path answers it (never None: never sent again);
        the remote's notifications that came with it are passed on first, as they came."""
        if captured.notifications:
            await self._ready_link(serving=True)
            for notification in captured.notifications:
                await self._lean.relay(notification)
        if captured.raw is not None:
            try:
                return sdk_result("tools/call", captured.raw, captured.version)
            except ValidationError as exc:
                failure: Exception = exc
        else:
            assert captured.failure is not None
            failure = _as_sdk(captured.failure, self._timeout, captured.call)
        link = await self._ready_link(serving=False)
        if link is not None:
            failure = await link.failure(failure, captured.call, drop=False)  # not the link's connection
        if isinstance(failure, MCPError):
            raise LeanError(failure.error.model_dump(by_alias=True, mode="json", exclude_unset=True))
        if not isinstance(failure, VertexError):
            log.warning("%s: a first call failed unexpectedly (%s)", captured.name, type(failure).__name__)
            failure = UpstreamUnavailable(f"The call failed ({type(failure).__name__}). Try again.")
        log.info("%s failed: %s", captured.name, failure.code)
        return tool_error(self._worded(failure))

    async def _ready_link(self, *, serving: bool) -> RemoteLink | None:
        """The proxy's link once its lifespan made it (and a local session is there, ``serving``):
        at most ``LINK_WAIT`` seconds (a client that never listed the tools may open none)."""
        with anyio.move_on_after(LINK_WAIT):
            while (link := self._link(serving)) is None:  # noqa: ASYNC110 -- no event says the lifespan made it
                await anyio.sleep(0.01)
            return link
        return None
