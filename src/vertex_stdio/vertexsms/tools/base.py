"""What every tool needs: the services built at start-up, and a sign-in prompt for the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context

from vertex_stdio.core.credentials import TokenProvider
from vertex_stdio.mcpio.prompt import RequestPrompt
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.api.rest import RestUpstream
from vertex_stdio.vertexsms.journal import SendJournal
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.pricing import PriceBook
from vertex_stdio.vertexsms.tools.rates import RateCard


@dataclass
class Services:
    """Built once per process by the server's lifespan; shared by every call."""

    settings: Settings
    tokens: TokenProvider
    rest: RestUpstream
    hosted: HostedMcpUpstream
    rates: RateCard
    journal: SendJournal
    prices: PriceBook = field(default_factory=PriceBook)


AnyContext = Context[Any, Any]


def services(ctx: AnyContext) -> Services:
    """The process's services, from the request context."""
    found = ctx.request_context.lifespan_context
    if not isinstance(found, Services):
        raise TypeError("vertex-stdio tools need the server's lifespan services")
    return found


class ContextPrompt(RequestPrompt):
    """The sign-in prompt (``mcpio.prompt``) of one tool call, from its ``Context``."""

    def __init__(self, ctx: AnyContext) -> None:
        super().__init__(ctx.request_context)


def client_name(ctx: AnyContext) -> str | None:
    """The client's name from its ``initialize`` (recorded in the journal), when it gave one."""
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    name = getattr(info, "name", None)
    return str(name)[:80] if name else None
