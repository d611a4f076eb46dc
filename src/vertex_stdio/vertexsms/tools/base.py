"""What every tool needs: the services built at start-up, and a sign-in prompt for the call."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

from vertex_stdio.core.credentials import TokenProvider
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.api.rest import RestUpstream
from vertex_stdio.vertexsms.journal import SendJournal
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.rates import RateCard

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Built once per process by the server's lifespan; shared by every call."""

    settings: Settings
    tokens: TokenProvider
    rest: RestUpstream
    hosted: HostedMcpUpstream
    rates: RateCard
    journal: SendJournal


AnyContext = Context[Any, Any]


def services(ctx: AnyContext) -> Services:
    """The process's services, from the request context."""
    found = ctx.request_context.lifespan_context
    if not isinstance(found, Services):
        raise TypeError("vertex-stdio tools need the server's lifespan services")
    return found


class ContextPrompt:
    """A ``SignInPrompt`` for one tool call: progress notifications and URL elicitation."""

    def __init__(self, ctx: AnyContext) -> None:
        self._ctx = ctx

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        await self._ctx.report_progress(elapsed, total, message)

    async def offer_url(self, url: str, message: str) -> str:
        """Show the URL through the client when it declared URL-mode elicitation; its answer."""
        caps = self._ctx.client_capabilities
        elicitation = caps.elicitation if caps else None
        if elicitation is None or getattr(elicitation, "url", None) is None:
            return "unsupported"
        if self._ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return "unsupported"  # 2026-07-28 connections have no back-channel for server requests
        try:
            answer = await self._ctx.elicit_url(message, url, uuid.uuid4().hex)
        except MCPError as exc:
            log.info("The client did not take the sign-in URL (%s); it is on stderr", exc.error.message)
            return "unsupported"
        return answer.action


def client_name(ctx: AnyContext) -> str | None:
    """The client's name from its ``initialize`` (recorded in the journal), when it gave one."""
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    name = getattr(info, "name", None)
    return str(name)[:80] if name else None
