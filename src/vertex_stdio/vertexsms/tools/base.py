"""What every tool needs: the services built at start-up, and a sign-in prompt for the call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mcp.server.mcpserver import Context

from vertex_stdio.core.calls import CallRecord, recording
from vertex_stdio.core.credentials import SignInPrompt, TokenProvider
from vertex_stdio.core.errors import VertexError
from vertex_stdio.mcpio.prompt import RequestPrompt
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.api.rest import RestUpstream
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.pricing import PriceBook
from vertex_stdio.vertexsms.tools.rates import RateCard

if TYPE_CHECKING:  # imported with the journal, at its first use (``Services.journal``)
    from vertex_stdio.vertexsms.approval import Approvals
    from vertex_stdio.vertexsms.journal import CallFacts, SendJournal, Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Services:
    """Built once per process by the server's lifespan; shared by every call.

    The send journal and the browser approvals are made at their first use (``journal_of``,
    ``approvals_of``), so a session that never sends never imports the journal, policy and
    approval modules (issue 22).  A billable call asks for the journal before anything leaves
    (``billable_attempts``): it is made, and its store opened, before the call is recorded.
    """

    settings: Settings
    tokens: TokenProvider
    rest: RestUpstream
    hosted: HostedMcpUpstream
    rates: RateCard
    journal_of: Callable[[], SendJournal]
    prices: PriceBook = field(default_factory=PriceBook)
    approvals_of: Callable[[], Approvals] = field(default=lambda: _approvals())
    _journal: SendJournal | None = field(default=None, init=False, repr=False)
    _approvals: Approvals | None = field(default=None, init=False, repr=False)

    @property
    def journal(self) -> SendJournal:
        """The process's send journal (made at the first call that asks for it)."""
        if self._journal is None:
            self._journal = self.journal_of()
        return self._journal

    @property
    def approvals(self) -> Approvals:
        """The browser approvals (made at the first send that needs one)."""
        if self._approvals is None:
            self._approvals = self.approvals_of()
        return self._approvals


def _approvals() -> Approvals:
    from vertex_stdio.vertexsms.approval import Approvals

    return Approvals()


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


async def billable_attempts(
    svc: Services,
    op: Operation,
    facts: CallFacts,
    prompt: SignInPrompt | None,
    attempt: Callable[[Ticket], Awaitable[T]],
    *,
    guard: bool = False,
) -> T:
    """Run ``attempt`` (one POST) inside its own journal record; at most twice, never blindly.

    One POST, one record: a 401 or a 403 ``insufficient_scope`` is that attempt's outcome
    (``refused``: VertexSMS did nothing).  The token is then renewed outside any record (a
    refresh, or a sign-in the person may take minutes over), and only when a different token is
    at hand is the call made once more -- as a new record that passes the guard and the limits
    like any other call.  No other answer is followed by another attempt: any other may mean it
    happened.
    """
    for attempt_no in (1, 2):
        record = CallRecord()
        with recording(record):
            try:
                async with svc.journal.billable(op.tool, facts, guard=guard) as ticket:
                    return await attempt(ticket)
            except VertexError as error:
                if attempt_no == 2 or record.refused is None:
                    raise
                refusal = error
        if await svc.tokens.token([op.scope], prompt) == record.refused:
            raise refusal
        log.info("%s: VertexSMS refused the token (%s); renewed, trying once more", op.tool, refusal.code)
    raise AssertionError("unreachable")  # pragma: no cover
