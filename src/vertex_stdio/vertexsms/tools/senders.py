"""Sender registration: alphanumeric sender IDs and phone numbers as senders."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from vertex_stdio.vertexsms.api.outcomes import Operation, unreadable_success
from vertex_stdio.vertexsms.api.rest import RestResponse
from vertex_stdio.vertexsms.journal import CallFacts, Ticket
from vertex_stdio.vertexsms.outgoing import destination
from vertex_stdio.vertexsms.tools.base import (
    AnyContext,
    ContextPrompt,
    Services,
    billable_attempts,
    client_name,
    services,
)
from vertex_stdio.vertexsms.tools.models import (
    ConfirmSenderResult,
    HttpsUrl,
    MsisdnSenderResult,
    PhoneNumber,
    SenderIdResult,
    SenderName,
)
from vertex_stdio.vertexsms.tools.pricing import require_price

REGISTER_ALPHA = Operation(tool="register_sender_id", scope="sender:write", costs_or_changes=True)
REGISTER_MSISDN = Operation(tool="register_msisdn_sender", scope="sender:write", costs_or_changes=True)
CONFIRM_MSISDN = Operation(tool="confirm_msisdn_sender", scope="sender:write", costs_or_changes=True)
# The emulator's fixed PIN (sandbox/book.py, which this light module must not import: it would pull
# the emulator in); tests/vertexsms/sandbox/test_sandbox_memory.py keeps the two equal.
SANDBOX_PIN = "12345"

REGISTER_SENDER_ID_DESCRIPTION = """Ask VertexSMS to approve an alphanumeric sender ID (the name \
recipients see instead of a number, e.g. ACME). Changes the account: it files a registration that a \
VertexSMS reviewer approves or rejects later, so call it once, only when the user asks. The name has \
3 to 11 Latin letters or digits (no spaces, dots or - _ & # !): the characters both registration \
and send_sms `from` accept, so an approved name can be used as `from`. `category` says what the name stands for and `categoryDescription` justifies it for the \
reviewer. Returns the new sender_id."""

REGISTER_MSISDN_SENDER_DESCRIPTION = """Register a phone number the user owns as an SMS sender. \
Changes the account and makes VertexSMS text a 5-digit PIN to that number: the PIN SMS counts as \
one message to that number in the daily spend limits and is priced as one SMS part. \
Call it once, then ask the user for the PIN and call confirm_msisdn_sender with the returned \
sender_id. Returns the new sender_id."""

CONFIRM_MSISDN_SENDER_DESCRIPTION = """Confirm a phone-number sender with the 5-digit PIN that \
VertexSMS sent to it by SMS (after register_msisdn_sender). Changes the account. A wrong PIN is \
rejected with INVALID_INPUT; ask the user to check the SMS and try again."""


async def register_sender_id(
    name: SenderName,
    category: Annotated[
        Literal["Company", "Product", "Brand", "Shortcode", "Landline", "Other"],
        Field(description="What the name stands for."),
    ],
    categoryDescription: Annotated[
        str,
        Field(min_length=3, max_length=500, description="Why you may use this name, for the reviewer."),
    ],
    ctx: AnyContext,
    notificationUrl: Annotated[
        HttpsUrl | None, Field(description="Optional webhook VertexSMS calls when the review status changes.")
    ] = None,
) -> SenderIdResult:
    body: dict[str, Any] = {
        "name": name,
        "type": "AlphaNumeric",
        "category": category,
        "categoryDescription": categoryDescription,
    }
    if notificationUrl:
        body["notificationUrl"] = notificationUrl
    svc = services(ctx)
    facts = CallFacts(sender=name, client=client_name(ctx))
    sender_id = await _register(svc, REGISTER_ALPHA, body, facts, ContextPrompt(ctx))
    return SenderIdResult(
        sender_id=sender_id,
        name=name,
        type="AlphaNumeric",
        status="submitted",
        next="VertexSMS reviews the name; it can be used as `from` once approved.",
    )


async def register_msisdn_sender(msisdn: PhoneNumber, ctx: AnyContext) -> MsisdnSenderResult:
    digits = destination(msisdn)  # as VertexSMS receives it, and the guard and limits key on it
    body = {"name": digits, "type": "MSISDN"}
    svc = services(ctx)
    prompt = ContextPrompt(ctx)
    await svc.tokens.token(
        [REGISTER_MSISDN.scope], prompt
    )  # sign in before pricing: the call is not cancellable
    price = await svc.prices.of_one_part(svc, digits, prompt)
    require_price(svc, price, REGISTER_MSISDN.tool)
    # The PIN SMS is a message to that number: it counts in the daily limits and is priced, but a
    # second registration is not a duplicate (a lost PIN is asked for again this way).
    facts = CallFacts(
        recipient="+" + digits,
        sender="+" + digits,
        parts=1,
        price_eur=price.eur,
        client=client_name(ctx),
        allow_duplicate=True,
        price_source=price.journal_source,
    )
    sender_id = await _register(svc, REGISTER_MSISDN, body, facts, prompt, guard=True)
    if svc.settings.sandbox:
        then = (
            f"[SANDBOX] No PIN SMS is sent in the sandbox: its PIN is always {SANDBOX_PIN}. Call "
            f"confirm_msisdn_sender with sender_id {sender_id} and code {SANDBOX_PIN}."
        )
    else:
        then = (
            f"Ask the user for the 5-digit PIN sent to +{digits}, then call confirm_msisdn_sender "
            f"with sender_id {sender_id}."
        )
    return MsisdnSenderResult(
        sender_id=sender_id,
        msisdn="+" + digits,
        type="MSISDN",
        status="pin_sent",
        next=then,
        price_eur=price.eur,
        price_source=price.describe(),
    )


async def confirm_msisdn_sender(
    sender_id: Annotated[
        int, Field(ge=1, le=2_147_483_647, description="The sender_id from register_msisdn_sender.")
    ],
    code: Annotated[str, Field(pattern=r"^[0-9]{5}$", description="The 5-digit PIN received by SMS.")],
    ctx: AnyContext,
) -> ConfirmSenderResult:
    svc = services(ctx)
    prompt = ContextPrompt(ctx)

    async def attempt(ticket: Ticket) -> None:
        path = f"/senderId/confirm/{sender_id}"
        await svc.rest.call(CONFIRM_MSISDN, "POST", path, json_body={"code": code}, prompt=prompt)
        ticket.sent(str(sender_id))

    await billable_attempts(svc, CONFIRM_MSISDN, CallFacts(client=client_name(ctx)), prompt, attempt)
    return ConfirmSenderResult(sender_id=sender_id, confirmed=True)


async def _register(
    svc: Services,
    op: Operation,
    body: dict[str, Any],
    facts: CallFacts,
    prompt: ContextPrompt,
    *,
    guard: bool = False,
) -> int:
    """POST a sender registration (one journal record per POST); the new sender's ID."""

    async def attempt(ticket: Ticket) -> int:
        response = await svc.rest.call(op, "POST", "/senderId", json_body=body, prompt=prompt)
        sender_id = _new_id(response, op)
        ticket.sent(str(sender_id))
        return sender_id

    return await billable_attempts(svc, op, facts, prompt, attempt, guard=guard)


def _new_id(response: RestResponse, op: Operation) -> int:
    """The new sender's ID: the body is the number as plain text (or JSON)."""
    text = response.text().strip().strip('"[]')
    if not text.isdigit():
        raise unreadable_success(op, "no sender ID in the answer")
    return int(text)
