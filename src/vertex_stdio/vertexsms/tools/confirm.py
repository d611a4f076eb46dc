"""Asking the person before a send, where the client can show a form (elicitation).

``ask_to_send`` is a resolver (``mcp.server.mcpserver.Resolve``): the SDK runs it before
``send_sms``'s body and delivers the question the way the connection allows, as a server
request on handshake-era connections or inside an input-required result on 2026-07-28 ones.
It asks nothing when ``VERTEXSMS_CONFIRM_SENDS=0`` or the client declared no form
elicitation; those sends behave as before.
"""

from __future__ import annotations

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Elicit
from pydantic import BaseModel, Field

from vertex_stdio.core.errors import Declined
from vertex_stdio.vertexsms.journal import CallFacts
from vertex_stdio.vertexsms.smsparts import count_parts
from vertex_stdio.vertexsms.tools.base import AnyContext, ContextPrompt, services
from vertex_stdio.vertexsms.tools.quotes import quote


class ConfirmSend(BaseModel):
    """The form the person answers."""

    send: bool = Field(default=True, title="Send this SMS", description="Untick, or decline, to not send it.")


Confirmation = ElicitationResult[ConfirmSend]


def _can_ask(ctx: AnyContext) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps else None
    # A bare ``elicitation: {}`` (from before modes existed) means form support.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def ask_to_send(
    to: str, from_: str, message: str, allow_duplicate: bool, ctx: AnyContext
) -> Elicit[ConfirmSend] | None:
    """The question for this send, or None (no question) when it is off, cannot be asked, or the
    send would be refused anyway (a duplicate, a limit: the tool then says which)."""
    svc = services(ctx)
    if not svc.settings.confirm_sends or not _can_ask(ctx):
        return None
    facts = CallFacts(to, from_, message, count_parts(message), allow_duplicate=allow_duplicate)
    if await svc.journal.would_refuse("send_sms", facts):
        return None
    body = {"to": to.removeprefix("+"), "from": from_, "message": message}
    q = await quote(svc, body, ContextPrompt(ctx))
    cost = f", about €{q.total_eur:.2f}" if q.total_eur is not None else ""
    kind = {"sandbox": " (sandbox: nothing is really sent)", "test": " (test mode)"}.get(svc.journal.kind, "")
    parts = f"{q.parts} SMS part{'s' if q.parts != 1 else ''}"
    preview = message if len(message) <= 60 else message[:59] + "…"
    return Elicit(f"Send {parts} to +{body['to']} from {from_}{cost}{kind}?\n\n“{preview}”", ConfirmSend)


def require_yes(answer: Confirmation) -> None:
    """``Declined`` unless the person accepted (or was not asked)."""
    if isinstance(answer, AcceptedElicitation) and (answer.data is None or answer.data.send):
        return
    raise Declined(
        "Not sent: the person declined this SMS when asked to confirm. Do not send it again unless "
        "they ask; change the text or recipient if they want something different.",
        outcome="not_sent",
    )
