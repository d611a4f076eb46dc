"""Number intelligence: operators, MCC/MNC lists, prefixes, number correction and HLR."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.vertexsms.api.outcomes import Operation, unreadable_success
from vertex_stdio.vertexsms.outgoing import destination
from vertex_stdio.vertexsms.tools.base import (
    AnyContext,
    ContextPrompt,
    billable_attempts,
    client_name,
    services,
)
from vertex_stdio.vertexsms.tools.hosted import CORRECT, PREFIXES, ask_corrections, ask_prefixes
from vertex_stdio.vertexsms.tools.models import (
    HlrResult,
    HttpsUrl,
    MccMncItem,
    MccMncPage,
    OperatorResult,
    PhoneNumber,
)
from vertex_stdio.vertexsms.tools.numbermodels import (
    CorrectionResult,
    CountryCode,
    MobilePrefixesResult,
    NumbersToCorrect,
    sent_numbers,
    validated,
)
from vertex_stdio.vertexsms.tools.pricing import require_price

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.journal import Ticket

HLR = Operation(tool="lookup_hlr", scope="hlr:lookup", costs_or_changes=True)
OPERATOR = Operation(tool="get_operator", scope="numbers:read", costs_or_changes=False)
MCCMNC = Operation(tool="get_mcc_mnc_list", scope="numbers:read", costs_or_changes=False)

LOOKUP_HLR_DESCRIPTION = """Start an HLR lookup: ask the mobile network whether a number is live, \
which operator serves it now and whether it was ported. BILLABLE: each lookup costs money, so call \
it once per number and only when the user wants it. The same number again within a few minutes is \
refused with DUPLICATE_SEND (the first lookup's answer goes to its callback); each lookup counts as \
one message to the number in the daily spend limits, priced as one SMS part to it. The answer is NOT returned here: VertexSMS \
POSTs it (JSON with imsi, operatorId, mcc, mnc, ported) to `callBackUrl`, which must be reachable \
from the internet. This tool returns the lookup_id that the callback will carry."""

GET_OPERATOR_DESCRIPTION = """Get a mobile operator by its VertexSMS operator ID (as found in \
get_mcc_mnc_list or HLR results): name, country, MCC and its MNCs. Free and read-only."""

GET_MCC_MNC_LIST_DESCRIPTION = """List a country's mobile networks as MCC/MNC pairs with their \
VertexSMS operator IDs, one page at a time (start at page 1; follow next_page until it is null). \
Free and read-only."""

GET_MOBILE_PREFIXES_DESCRIPTION = """List the mobile number prefixes of a country (international \
digits without '+', e.g. 3706 for Lithuanian mobiles), with the operator each belongs to. Use it to \
tell mobile from landline numbers. Free and read-only."""

CORRECT_PHONE_NUMBER_DESCRIPTION = """Validate and normalise up to 100 phone numbers, each with the \
country it is written for: national forms ('861860698', '(370)-618-60698', '6186 0698') become E.164 \
('+37061860698'). Each result says whether the number is valid, mobile or landline, and why not if \
invalid. Free and read-only; use it before sending to numbers typed by people."""


async def lookup_hlr(
    msisdn: PhoneNumber,
    callBackUrl: Annotated[
        HttpsUrl,
        Field(description="Where VertexSMS POSTs the lookup result (must be reachable from the internet)."),
    ],
    ctx: AnyContext,
) -> HlrResult:
    digits = destination(msisdn)  # as VertexSMS receives it, and the guard and limits key on it
    svc = services(ctx)
    prompt = ContextPrompt(ctx)
    await svc.tokens.token([HLR.scope], prompt)  # sign in before pricing: the call is not cancellable
    price = await svc.prices.of_one_part(svc, digits, prompt)
    require_price(svc, price, HLR.tool)
    from vertex_stdio.vertexsms.journal import CallFacts  # the journal's, loaded at the first billable call

    facts = CallFacts(
        recipient="+" + digits,
        parts=1,
        price_eur=price.eur,
        client=client_name(ctx),
        price_source=price.journal_source,
    )

    async def attempt(ticket: Ticket) -> int:
        body = {"msisdn": digits, "callBackUrl": callBackUrl}
        response = await svc.rest.call(HLR, "POST", "/hlr", json_body=body, prompt=prompt)
        ids = response.json(HLR)
        first = ids[0] if isinstance(ids, list) and ids else ids
        if not str(first).isdigit():
            raise unreadable_success(HLR, "no lookup ID in the answer")
        ticket.sent(str(first))
        return int(str(first))

    return HlrResult(
        lookup_id=await billable_attempts(svc, HLR, facts, prompt, attempt, guard=True),
        msisdn="+" + digits,
        status="submitted",
        callback_url=callBackUrl,
        note="The result is delivered only to callback_url; this bridge cannot receive it.",
        price_eur=price.eur,
        price_source=price.describe(),
    )


async def get_operator(
    operatorId: Annotated[int, Field(ge=1, le=2_147_483_647, description="VertexSMS operator ID.")],
    ctx: AnyContext,
) -> OperatorResult:
    svc = services(ctx)
    response = await svc.rest.call(OPERATOR, "GET", f"/operators/{operatorId}", prompt=ContextPrompt(ctx))
    body = response.json(OPERATOR)
    if not isinstance(body, dict):
        raise UpstreamError("VertexSMS sent an operator in an unexpected shape; try again later.")
    mnc = body.get("mnc")
    mncs = [str(m) for m in mnc] if isinstance(mnc, list) else ([str(mnc)] if mnc is not None else [])
    return OperatorResult(
        operator_id=operatorId,
        name=str(body.get("name", "")),
        country=str(body.get("country", "")),
        mcc=str(body.get("mcc", "")),
        mnc=mncs,
    )


async def get_mcc_mnc_list(
    country: CountryCode,
    ctx: AnyContext,
    page: Annotated[int, Field(ge=1, le=10_000, description="Page number, starting at 1.")] = 1,
) -> MccMncPage:
    svc = services(ctx)
    response = await svc.rest.call(
        MCCMNC, "GET", f"/mccmnc/{country}", params={"Page": str(page)}, prompt=ContextPrompt(ctx)
    )
    body = response.json(MCCMNC)
    rows = body.get("items", body.get("data")) if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise UpstreamError("VertexSMS sent an MCC/MNC page in an unexpected shape; try again later.")
    items = [_mccmnc(row, country) for row in rows if isinstance(row, dict)]
    return MccMncPage(country=country, page=page, items=items, next_page=page + 1 if items else None)


def _mccmnc(row: dict[str, Any], country: str) -> MccMncItem:
    op = row.get("operatorId", row.get("operator_id"))
    return MccMncItem(
        country=str(row.get("country") or country),
        mcc=str(row.get("mcc", "")),
        mnc=str(row.get("mnc", "")),
        operator_id=int(op) if isinstance(op, int | str) and str(op).isdigit() else None,
    )


async def get_mobile_prefixes(country: CountryCode, ctx: AnyContext) -> MobilePrefixesResult:
    data = await ask_prefixes(services(ctx).hosted, country, ContextPrompt(ctx))
    return validated(MobilePrefixesResult, data, PREFIXES)


async def correct_phone_number(numbers: NumbersToCorrect, ctx: AnyContext) -> CorrectionResult:
    data = await ask_corrections(services(ctx).hosted, sent_numbers(numbers), ContextPrompt(ctx))
    return validated(CorrectionResult, data, CORRECT)
