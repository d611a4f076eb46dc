"""What one MCP request can do for the person while it waits: the sign-in prompt, the progress relay.

``RequestPrompt`` is the ``core.credentials.SignInPrompt`` of every request, a VertexSMS tool
call's and a call ``connect`` forwards alike: progress notifications while the sign-in waits,
and the sign-in link shown through the client when it can (URL-mode elicitation).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.shared.dispatcher import ProgressFnT
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

log = logging.getLogger(__name__)


class RequestPrompt:
    """A ``SignInPrompt`` for the request ``ctx`` (the SDK's low-level request context)."""

    def __init__(self, ctx: ServerRequestContext[Any, Any]) -> None:
        self._ctx = ctx

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        await self._ctx.session.report_progress(elapsed, total, message)

    async def offer_url(self, url: str, message: str) -> str:
        """Show the URL through the client when it declared URL-mode elicitation; its answer.

        ``unsupported`` when it cannot: no URL elicitation declared, a protocol version with no
        back-channel for server requests (2026-07-28), or the client refused the request.
        """
        caps = self._ctx.session.client_capabilities
        elicitation = caps.elicitation if caps else None
        if elicitation is None or getattr(elicitation, "url", None) is None:
            return "unsupported"
        if self._ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return "unsupported"
        try:
            answer = await self._ctx.session.elicit_url(message, url, uuid.uuid4().hex, self._ctx.request_id)
        except MCPError as exc:
            log.info("The client did not take the sign-in URL (%s); it is on stderr", exc.error.message)
            return "unsupported"
        return str(answer.action)


def progress_relay(ctx: ServerRequestContext[Any, Any]) -> ProgressFnT | None:
    """Relays progress from further away (a remote server) to this request, when its client asked for it."""
    meta = (ctx.params or {}).get("_meta")
    if not isinstance(meta, dict) or meta.get("progressToken") is None:
        return None

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.report_progress(progress, total, message)

    return relay
