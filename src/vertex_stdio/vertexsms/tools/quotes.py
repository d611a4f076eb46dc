"""quote_sms: what a message will cost before it is sent (free, read-only)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from pydantic import Field

from vertex_stdio.core.errors import VertexError
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.dialcodes import country_of
from vertex_stdio.vertexsms.outgoing import outgoing
from vertex_stdio.vertexsms.smsparts import count_parts, encoding_of
from vertex_stdio.vertexsms.tools.base import AnyContext, ContextPrompt, Services, services
from vertex_stdio.vertexsms.tools.models import CorrectBy, QuoteResult, Recipient, SenderFrom
from vertex_stdio.vertexsms.tools.rates import field

COST = Operation(tool="quote_sms", scope="sms:send", costs_or_changes=False)
QUOTE_TIMEOUT = 10.0

QUOTE_SMS_DESCRIPTION = """What an SMS would cost, without sending it: the number of parts, the \
encoding (GSM-7 or UCS-2), the price per part and in total in EUR, and the destination country and \
network when known. Free and read-only: nothing is sent. `source` says where the figures come from: \
'vertexsms' (VertexSMS's own quote) or 'estimate' (our part count times the highest rate on the \
rate card for the country, when VertexSMS gives no quote)."""


async def quote_sms(
    to: Recipient,
    from_: SenderFrom,
    message: Annotated[str, Field(min_length=1, max_length=4000, description="The text you would send.")],
    ctx: AnyContext,
    correctBy: CorrectBy = None,
) -> QuoteResult:
    body = outgoing(to, from_, message, correctBy).body()  # priced as send_sms would send it
    return await quote(services(ctx), body, ContextPrompt(ctx))


async def quote(svc: Services, body: dict[str, Any], prompt: ContextPrompt | None) -> QuoteResult:
    """VertexSMS's quote from ``POST /sms/cost``; our estimate when that is refused or missing."""
    try:
        with anyio.fail_after(QUOTE_TIMEOUT):
            response = await svc.rest.call(COST, "POST", "/sms/cost", json_body=body, prompt=prompt)
        found = _from_cost(response.json(COST), body["message"])
    except (VertexError, TimeoutError):
        found = None
    return found or await _estimate(svc, body, prompt)


def _from_cost(answer: Any, message: str) -> QuoteResult | None:
    """VertexSMS's quote, or None when it names no positive price (a €0 quote is "unknown")."""
    item = answer[0] if isinstance(answer, list) and answer else answer
    if not isinstance(item, dict) or not isinstance(item.get("parts"), int) or item["parts"] < 1:
        return None
    total = _number(item.get("totalPrice"))
    if total is None or total <= 0:
        return None
    mccmnc = str(item.get("mccmnc") or "") or None
    return QuoteResult(
        parts=item["parts"],
        encoding=encoding_of(message),
        price_per_part_eur=_number(item.get("pricePerPart")) or round(total / item["parts"], 6),
        total_eur=total,
        currency=str(item.get("currency") or "EUR"),
        country=str(item.get("countryISO") or "") or None,
        mcc=mccmnc[:3] if mccmnc else None,
        mnc=mccmnc[3:] if mccmnc else None,
        source="vertexsms",
        note="VertexSMS's own quote (POST /sms/cost).",
    )


async def _estimate(svc: Services, body: dict[str, Any], prompt: ContextPrompt | None) -> QuoteResult:
    parts = count_parts(body["message"])
    country = country_of(body["to"])
    rate: float | None = None
    if country is not None:
        try:
            rows, _age = await svc.rates.rows(prompt)
        except VertexError:
            rows = ()
        rates = [
            _number(field(r, "Rate")) for r in rows if str(field(r, "CountryCode") or "").upper() == country
        ]
        known = [r for r in rates if r is not None and r > 0]
        rate = max(known) if known else None
    return QuoteResult(
        parts=parts,
        encoding=encoding_of(body["message"]),
        price_per_part_eur=rate,
        total_eur=round(rate * parts, 4) if rate is not None else None,
        currency="EUR",
        country=country,
        source="estimate",
        note=f"VertexSMS gave no quote: our own part count times the highest rate for {country} on "
        "the rate card (the real price may be lower)."
        if rate is not None
        else "VertexSMS gave no quote and the country's rate is not known: parts only.",
    )


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
