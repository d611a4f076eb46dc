"""A person's yes in the browser, for a send whose client cannot show a form.

``approve_in_browser`` runs in ``send_sms`` once the send is priced and before it is recorded:
when the send needs a yes (``needs_a_yes``) and the client declared no form elicitation (those
clients are asked by ``confirm.ask_to_send``, with the same rules), the person decides on a
one-time local page (``vertexsms.approval``).  The call opens it in the system browser and
offers it through the client (URL elicitation) where it can, then waits for the decision,
bounded, with progress notifications: approve sends once, decline answers ``DECLINED``.
Where nobody can be shown the page, or the wait runs out, it answers ``CONFIRMATION_REQUIRED``
at once with the link (the approval stays open for its 10 minutes: repeating the same call
after approving sends it, once), and the refusal is recorded in the journal.
"""

from __future__ import annotations

from datetime import UTC, datetime

import anyio

from vertex_stdio.core.errors import ConfirmationRequired, Declined
from vertex_stdio.vertexsms.approval import Approval, Approvals, Summary, send_key
from vertex_stdio.vertexsms.journal import CallFacts
from vertex_stdio.vertexsms.journal.refusals import record_refusal, today
from vertex_stdio.vertexsms.outgoing import OutgoingSms
from vertex_stdio.vertexsms.tools.base import AnyContext, ContextPrompt, Services, services
from vertex_stdio.vertexsms.tools.confirm import can_ask, needs_a_yes, visible
from vertex_stdio.vertexsms.tools.pricing import Price

PROGRESS_EVERY = 5.0
_WHERE = {"sandbox": "Sandbox: nothing is really sent or billed.", "test": "Test mode."}


async def approve_in_browser(ctx: AnyContext, sms: OutgoingSms, price: Price, facts: CallFacts) -> None:
    """Return when this send may go; ``Declined`` or ``ConfirmationRequired`` when it may not."""
    svc = services(ctx)
    if can_ask(ctx) or not await needs_a_yes(svc, facts):
        return
    if await svc.journal.would_refuse("send_sms", facts):
        return  # refused anyway, with its own reason, by the journal
    approvals = svc.approvals
    key = send_key(svc.journal.kind, sms.e164, sms.sender, sms.text)
    if approvals.desk.take(key):
        return
    approval = approvals.desk.pending(key)
    if approval is None:
        approval = await approvals.create(key, await _summary(svc, sms, price))
        approval.shown_in_browser = await approvals.opener(approvals.url(approval))
    try:
        await _wait(ctx, approvals, approval)
    finally:
        await approvals.settle()
    if approval.state == "declined":
        raise Declined(
            "Not sent: the person declined this SMS on the approval page. Do not send it again unless "
            "they ask; change the text or recipient if they want something different.",
            outcome="not_sent",
        )
    if approvals.desk.take(key):
        return
    error = _required(approvals, approval)
    await record_refusal(svc.journal, "send_sms", facts, error)
    raise error


async def _wait(ctx: AnyContext, approvals: Approvals, approval: Approval) -> None:
    """Wait for the decision while the page can be seen (browser, or the client's URL prompt)."""
    prompt = ContextPrompt(ctx)
    url = approvals.url(approval)
    bound = min(approvals.wait, approval.expires - approvals.desk.clock())
    words = "Waiting for the person to approve or decline this SMS in their browser"
    async with anyio.create_task_group() as waiting:

        async def offer() -> None:
            answer = await prompt.offer_url(
                url, f"Approve or decline this SMS to {approval.summary.recipient}"
            )
            if answer == "decline":
                approval.decide(False)
            elif answer != "accept" and not approval.shown_in_browser:
                waiting.cancel_scope.cancel()  # nobody can see the page: answer with the link now
            elif answer == "accept":
                approval.shown_in_browser = True

        waiting.start_soon(offer)
        with anyio.move_on_after(bound):
            started = anyio.current_time()
            while not approval.decided.is_set():
                with anyio.move_on_after(PROGRESS_EVERY):
                    await approval.decided.wait()
                if not approval.decided.is_set():
                    await prompt.progress(f"{words}: {url}", anyio.current_time() - started, bound)
        waiting.cancel_scope.cancel()


def _required(approvals: Approvals, approval: Approval) -> ConfirmationRequired:
    url = approvals.url(approval)
    expires = datetime.fromtimestamp(approval.expires, UTC).isoformat(timespec="seconds")
    return ConfirmationRequired(
        "Not sent: this SMS needs the person's approval, and they have not given it yet. Show them "
        f"this link and ask them to open it and approve or decline the SMS: {url} (it works once, in "
        f"one browser, until {expires}). Once they approved, call send_sms again with exactly the same "
        "recipient, sender and text: it is then sent once.",
        approve_url=url,
        expires_at=expires,
        outcome="not_sent",
    )


async def _summary(svc: Services, sms: OutgoingSms, price: Price) -> Summary:
    cost = f"€{price.eur:.4f} ({price.describe()})" if price.eur is not None else price.describe()
    day = await today(svc.journal)
    totals = (
        f"{day.messages} message(s) to {day.recipients} recipient(s), {day.parts} part(s), €{day.eur:.4f}"
    )
    return Summary(
        recipient=sms.e164,
        sender=sms.sender,
        text=visible(sms.text),
        parts=price.parts,
        price=cost,
        today=totals,
        where=_WHERE.get(svc.journal.kind, ""),
    )
