"""Asking the person before a send, where the client can show a form (elicitation).

``ask_to_send`` is a resolver (``mcp.server.mcpserver.Resolve``): the SDK runs it before
``send_sms``'s body and delivers the question the way the connection allows, as a server
request on handshake-era connections or inside an input-required result on 2026-07-28 ones.
It asks nothing when the send needs no yes (``needs_a_yes``: ``VERTEXSMS_CONFIRM_SENDS=0``, or the
spending policy does not ask for it: ``journal.policing.needs_yes``) or the client declared no
form elicitation (``tools/approve.py`` then asks on a page in the browser).
"""

from __future__ import annotations

import unicodedata

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Elicit
from pydantic import BaseModel, Field

from vertex_stdio.core.errors import Declined, InvalidInput
from vertex_stdio.vertexsms.journal import CallFacts
from vertex_stdio.vertexsms.journal.policing import needs_yes
from vertex_stdio.vertexsms.outgoing import OutgoingSms, outgoing
from vertex_stdio.vertexsms.tools.base import AnyContext, ContextPrompt, Services, services
from vertex_stdio.vertexsms.tools.pricing import Price


class ConfirmSend(BaseModel):
    """The form the person answers."""

    send: bool = Field(default=True, title="Send this SMS", description="Untick, or decline, to not send it.")


Confirmation = ElicitationResult[ConfirmSend]
_UNSEEN = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


async def needs_a_yes(svc: Services, facts: CallFacts) -> bool:
    """Whether this send needs a person's yes, asked by a form or on the approval page: the one
    place the rule is read: never when ``VERTEXSMS_CONFIRM_SENDS=0``, else as the spending policy
    says (``confirm_above_eur``, ``confirm_new_recipients``: ``journal.policing.needs_yes``)."""
    return svc.settings.confirm_sends and await needs_yes(svc.journal, facts)


def can_ask(ctx: AnyContext) -> bool:
    """Whether the client declared form elicitation (the person can be asked in the client)."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps else None
    # A bare ``elicitation: {}`` (from before modes existed) means form support.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def ask_to_send(
    to: str,
    from_: str,
    message: str,
    allow_duplicate: bool,
    ctx: AnyContext,
    correctBy: str | None = None,  # the tool argument's name
) -> Elicit[ConfirmSend] | None:
    """The question for this send, or None (no question) when it is off, cannot be asked, or the
    send would be refused anyway (a duplicate, a limit, unusable arguments: the tool then says which).

    It shows what VertexSMS will receive, whole: the recipient in E.164, the sender, the parts,
    the price when known, and the full text with every invisible or control character written
    as ⟨U+XXXX⟩ (``visible``), so the person approves exactly what is sent.
    """
    svc = services(ctx)
    if not svc.settings.confirm_sends or not can_ask(ctx):
        return None
    try:
        sms = outgoing(to, from_, message, correctBy)
    except InvalidInput:
        return None
    # The price shown is the one journaled and returned (the same PriceBook entry).
    price = await svc.prices.of_message(svc, sms.body(), ContextPrompt(ctx))
    facts = CallFacts(sms.e164, sms.sender, sms.text, price.parts, price.eur, allow_duplicate=allow_duplicate)
    if (
        (price.eur is None and svc.settings.max_eur_per_day)
        or await svc.journal.would_refuse("send_sms", facts)
        or not await needs_a_yes(svc, facts)
    ):
        return None
    return Elicit(question(sms, price, svc.journal.kind), ConfirmSend)


def question(sms: OutgoingSms, price: Price, kind: str) -> str:
    """The confirmation's words for ``sms``: recipient, sender, parts, price and where it comes
    from, the whole text."""
    cost = f", €{price.eur:.4f} ({price.describe()})" if price.eur is not None else f" ({price.describe()})"
    where = {"sandbox": " (sandbox: nothing is really sent)", "test": " (test mode)"}.get(kind, "")
    count = f"{price.parts} SMS part{'s' if price.parts != 1 else ''}"
    return f"Send {count} to {sms.e164} from {sms.sender}{cost}{where}?\n\n“{visible(sms.text)}”"


def visible(text: str) -> str:
    """``text`` with each character a person could not see (controls, format characters, spaces
    other than the plain one, private-use and unassigned ones) written as ⟨U+XXXX⟩; line breaks kept."""
    return "".join(ch if _seen(ch) else f"⟨U+{ord(ch):04X}⟩" for ch in text)


def _seen(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch in "\n " or (category not in _UNSEEN and category != "Zs")


def require_yes(answer: Confirmation) -> None:
    """``Declined`` unless the person accepted (or was not asked)."""
    if isinstance(answer, AcceptedElicitation) and (answer.data is None or answer.data.send):
        return
    raise Declined(
        "Not sent: the person declined this SMS when asked to confirm. Do not send it again unless "
        "they ask; change the text or recipient if they want something different.",
        outcome="not_sent",
    )
