"""The remote's log messages (``notifications/message``), passed on to the local client.

``logging/setLevel`` from the local client is answered here, not forwarded: the level is kept and
applied to what the remote sends, so it holds across reconnections (a new remote session would not
know a level set on the old one) and costs no request, sign-in or network when the client sets it.
A remote that filters nothing itself (the SDKs' default) thus sends everything and connect drops
what is below the client's level; before any ``setLevel`` everything passes, as from the remote.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.session import ServerSession
from mcp.types import LoggingMessageNotification

log = logging.getLogger(__name__)

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities, least severe first (the MCP logging levels)."""


class LogRelay:
    """The local client's chosen level, and the remote's messages at or above it."""

    def __init__(self) -> None:
        self._floor = 0

    async def set_level(self, _ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        """``logging/setLevel``: keep the level (an unknown one changes nothing); answer ``{}``."""
        level = params.get("level")
        if level in LEVELS:
            self._floor = LEVELS.index(level)
        return {}

    async def relay(self, session: ServerSession | None, message: LoggingMessageNotification) -> None:
        """Pass ``message`` on unchanged when at or above the level and a client is there."""
        level = message.params.level
        if session is None or (level in LEVELS and LEVELS.index(level) < self._floor):
            return
        try:
            await session.send_notification(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("the client went away before a log message could be passed on")
