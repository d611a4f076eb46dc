"""send_sms and get_sms_rates: the two tools people use most."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Resolve
from pydantic import Field

from vertex_stdio.core.errors import InvalidInput, NotFound
from vertex_stdio.vertexsms.api.outcomes import Operation, unreadable_success
from vertex_stdio.vertexsms.journal import CallFacts, Ticket
from vertex_stdio.vertexsms.outgoing import outgoing
from vertex_stdio.vertexsms.smsparts import count_parts
from vertex_stdio.vertexsms.tools.approve import approve_in_browser
from vertex_stdio.vertexsms.tools.base import (
    AnyContext,
    ContextPrompt,
    billable_attempts,
    client_name,
    services,
)
from vertex_stdio.vertexsms.tools.confirm import Confirmation, ask_to_send, require_yes
from vertex_stdio.vertexsms.tools.models import (
    CorrectBy,
    Rate,
    RatesResult,
    Recipient,
    SenderFrom,
    SendSmsResult,
)
from vertex_stdio.vertexsms.tools.numbermodels import CountryCode
from vertex_stdio.vertexsms.tools.pricing import require_price
from vertex_stdio.vertexsms.tools.rates import field, text_or_none

SEND = Operation(tool="send_sms", scope="sms:send", costs_or_changes=True, is_send=True)

SEND_SMS_DESCRIPTION = """Send one SMS through VertexSMS. BILLABLE: every call spends money (per SMS part) \
and reaches a real phone, so only send when the user clearly asked for this exact message, recipient \
and sender. Never call it again to "retry" after an error whose outcome is unknown: the first message \
may already have been delivered.

Long texts are split into parts automatically (160 GSM-7 or 70 Unicode characters per single SMS; \
153/67 per part when split); each part is billed. The result gives the VertexSMS message_id, the \
number of parts billed, the price when known and the destination in E.164 form. "sent" means \
accepted by VertexSMS, not delivered: use get_sms_status with the message_id to see delivery. \
`from` is an alphanumeric sender (at most 11 Latin letters, digits, spaces or dots) or a \
registered phone number. Use quote_sms (free) to see parts and price first.

What is sent is normalised first, and the result and the confirmation show it: the recipient as \
international digits (spaces, dashes and parentheses dropped, 00 read as +, a national number \
corrected here with correctBy), the text without invisible characters (zero-width spaces, soft \
hyphens, word joiners, BOMs...), in Unicode NFC and trimmed, and the sender trimmed.

Safety: the same text to the same recipient from the same sender within a few minutes (the same \
after that normalisation, however it was typed) is refused with DUPLICATE_SEND (carrying the earlier message_id); pass allow_duplicate: true only when the user \
explicitly wants it sent again. Spend limits (messages, recipients and EUR per 24 h, parts per \
message) refuse a send with SPEND_LIMIT, as does a send whose price cannot be known while a EUR \
limit is set; only the user can raise them. The result's price_eur says what it costs and \
price_source where that figure comes from. The user may be asked to confirm, in \
the client or on a local approval page in their browser; a "no" answers DECLINED and nothing is sent. \
CONFIRMATION_REQUIRED means they have not approved yet: show them its approve_url, and once they \
say they approved, call send_sms again with exactly the same arguments (it is then sent once)."""


async def send_sms(
    to: Recipient,
    from_: SenderFrom,
    message: Annotated[str, Field(min_length=1, max_length=4000, description="The text to send.")],
    ctx: AnyContext,
    confirmation: Annotated[Confirmation, Resolve(ask_to_send)],
    priority: Annotated[
        Literal["high", "normal", "low"] | None, Field(description="Delivery priority (default normal).")
    ] = None,
    scheduled: Annotated[
        str | None,
        Field(
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})$",
            description="Send later, at this ISO 8601 time with offset, e.g. 2026-01-01T13:00:00+02:00.",
        ),
    ] = None,
    correctBy: CorrectBy = None,
    coding: Annotated[
        Literal[0, 1, 2] | None, Field(description="0 = GSM-7 (default), 1 = 8-bit, 2 = UCS-2 (Unicode).")
    ] = None,
    expireIn: Annotated[
        int | None, Field(ge=360, le=432000, description="Validity in seconds, 360 to 432000 (5 days).")
    ] = None,
    allow_duplicate: Annotated[
        bool,
        Field(description="Send even though the same message went to the same recipient moments ago."),
    ] = False,
) -> SendSmsResult:
    require_yes(confirmation)
    svc = services(ctx)
    # One normalisation for the request and the duplicate guard's key: what VertexSMS receives
    # is what the journal compares.  correctBy is applied here, so the body carries no correctBy.
    sms = outgoing(to, from_, message, correctBy)
    body = sms.body()
    optional = {
        "priority": priority,
        "scheduled": scheduled,
        "coding": coding,
        "expireIn": expireIn,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if svc.settings.test_mode:
        body["testMode"] = svc.settings.test_mode
    estimate = count_parts(sms.text)
    svc.journal.check_parts(estimate)
    prompt = ContextPrompt(ctx)
    await svc.tokens.token([SEND.scope], prompt)  # sign in before pricing: the call is not cancellable
    price = await svc.prices.of_message(svc, body, prompt)
    require_price(svc, price, SEND.tool)
    facts = CallFacts(
        sms.e164,
        sms.sender,
        sms.text,
        price.parts,
        price.eur,
        client_name(ctx),
        allow_duplicate,
        price.journal_source,
    )
    await approve_in_browser(ctx, sms, price, facts)  # a client that cannot ask: the browser page

    async def attempt(ticket: Ticket) -> tuple[str, int]:
        response = await svc.rest.call(SEND, "POST", "/sms", json_body=body, prompt=prompt)
        ids = response.json(SEND)
        if not isinstance(ids, list) or not ids or not isinstance(ids[0], str | int):
            raise unreadable_success(SEND, "no message ID in the answer")
        parts = _parts(response.headers.get("x-vertexsms-amount-sent"), sms.text)
        ticket.sent(str(ids[0]), parts=parts, price_eur=price.for_parts(parts))
        return str(ids[0]), parts

    message_id, parts = await billable_attempts(svc, SEND, facts, prompt, attempt, guard=True)
    return SendSmsResult(
        message_id=message_id,
        status="sent",
        parts=parts,
        destination=sms.e164,
        price_eur=price.for_parts(parts),
        price_source=price.describe(),
    )


def _parts(header: str | None, message: str) -> int:
    if header and header.strip().isdigit() and int(header) > 0:
        return int(header)
    return count_parts(message)


GET_SMS_RATES_DESCRIPTION = """Look up what one SMS part costs to each mobile operator of a country, in EUR. \
Free and read-only. Use it before sending to a new country, or when the user asks about prices. \
`rate_eur` is the price of one SMS part as a decimal string; `operator`/`network` 'All' or \
'All other carriers' is the default route for operators not listed separately. The rate card is \
cached for an hour; `cache_age_seconds` says how old it is."""


async def get_sms_rates(country: CountryCode, ctx: AnyContext) -> RatesResult:
    svc = services(ctx)
    rows, age = await svc.rates.rows(ContextPrompt(ctx))
    mine = [r for r in rows if str(field(r, "CountryCode") or "").upper() == country]
    if not mine:
        if not rows:
            raise NotFound("VertexSMS returned an empty rate card for this account.")
        raise InvalidInput(
            f"No SMS rates for country {country}: it is not an ISO 3166-1 alpha-2 code VertexSMS "
            "serves for this account. Check the code (e.g. GB, not UK)."
        )
    rates = [
        Rate(
            operator=str(field(r, "Operator") or ""),
            network=str(field(r, "Network") or ""),
            rate_eur=str(field(r, "Rate") or ""),
            mcc=text_or_none(field(r, "MCC")),
            mnc=text_or_none(field(r, "MNC")),
        )
        for r in mine
    ]
    name = str(field(mine[0], "CountryName") or country)
    return RatesResult(country=country, country_name=name, rates=rates, cache_age_seconds=int(age))
