"""The price of every billable call, found once and used by the confirmation, the journal and the result.

A message is priced by VertexSMS's quote (``POST /sms/cost``); when that is refused, missing or
€0 (a €0 quote means "unknown", not free), by the rate card's highest rate for the destination
country times the parts.  VertexSMS publishes no price for an HLR lookup, and the PIN SMS of a
number's registration is VertexSMS's own short text: both are priced as one SMS part to that
number.  A price that cannot be found is None, and ``require_price`` refuses the call while a
EUR limit is set.  ``PriceBook`` keeps each price for ten minutes (an unknown one for one), so the
price the person confirmed is the one journaled and returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.tools.base import ContextPrompt, Services
    from vertex_stdio.vertexsms.tools.models import QuoteResult

# What a lookup or a PIN SMS is quoted as: one short GSM-7 part from a plain sender.
ONE_PART = {"from": "VertexSMS", "message": "PIN 00000"}
BOOK_TTL = 600.0
# An unknown price is kept only long enough for the confirmation and the call it asked about to
# agree; then the next call asks VertexSMS again (a 503 passes).
UNKNOWN_TTL = 60.0
BOOK_SIZE = 64


@dataclass(frozen=True)
class Price:
    """What a call costs: ``eur`` for ``parts`` parts at ``per_part``; None when unknown."""

    eur: float | None
    per_part: float | None
    parts: int
    source: str | None  # "vertexsms" or "rate_card"
    country: str | None = None

    @property
    def journal_source(self) -> str | None:
        """Where the price came from, in the journal's words."""
        if self.source == "vertexsms":
            return "VertexSMS quote"
        if self.source == "rate_card":
            return f"rate card: highest {self.country} rate"
        return None

    def describe(self) -> str:
        """Where the price came from, for people (the confirmation and the result)."""
        if self.eur is None:
            return "price unknown: VertexSMS gave no quote and the rate card has no rate for it"
        if self.source == "vertexsms":
            return "VertexSMS's quote"
        return (
            f"from the rate card: the highest rate for {self.country} "
            f"({self.per_part:.4f} EUR a part), as VertexSMS gave no quote"
        )

    def for_parts(self, parts: int) -> float | None:
        """The price of ``parts`` parts (VertexSMS may bill another count than quoted)."""
        if parts == self.parts or self.per_part is None:
            return self.eur
        return round(self.per_part * parts, 4)


def price_from(quote: QuoteResult) -> Price:
    """A quote as a price: only a positive total counts as known."""
    known = quote.total_eur is not None and quote.total_eur > 0
    return Price(
        eur=quote.total_eur if known else None,
        per_part=quote.price_per_part_eur if known else None,
        parts=quote.parts,
        source=("vertexsms" if quote.source == "vertexsms" else "rate_card") if known else None,
        country=quote.country,
    )


class PriceBook:
    """Prices found in the last ``ttl`` seconds, by request body (bounded, per process)."""

    def __init__(self, *, ttl: float = BOOK_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._prices: dict[tuple[str, ...], tuple[Price, float]] = {}

    async def of_message(self, svc: Services, body: dict[str, Any], prompt: ContextPrompt | None) -> Price:
        """The price of sending ``body`` (``to``, ``from``, ``message``), found once."""
        from vertex_stdio.vertexsms.tools.quotes import quote

        key = (str(body["to"]), str(body["from"]), str(body["message"]))
        found = self._prices.get(key)
        if found is not None and self._fresh(*found):
            return found[0]
        price = price_from(await quote(svc, {"to": key[0], "from": key[1], "message": key[2]}, prompt))
        self._prices = {k: v for k, v in self._prices.items() if self._fresh(*v)}
        if len(self._prices) >= BOOK_SIZE:
            self._prices.pop(next(iter(self._prices)))
        self._prices[key] = (price, self._clock())
        return price

    def _fresh(self, price: Price, since: float) -> bool:
        ttl = self._ttl if price.eur is not None else min(self._ttl, UNKNOWN_TTL)
        return self._clock() - since < ttl

    async def of_one_part(self, svc: Services, digits: str, prompt: ContextPrompt | None) -> Price:
        """The price of one SMS part to ``digits``: what an HLR lookup or a PIN SMS is counted as."""
        return await self.of_message(svc, {"to": digits, **ONE_PART}, prompt)


def require_price(svc: Services, price: Price, tool: str) -> None:
    """``SpendLimit`` when the price is unknown and a EUR limit is set (never counted as €0)."""
    limit = svc.settings.max_eur_per_day
    if limit and price.eur is None:
        why = "VertexSMS gave no quote and the rate card has no rate for " + (
            f"country {price.country}" if price.country else "the number's country"
        )
        from vertex_stdio.vertexsms.journal.verdicts import unpriced  # with the journal, when needed

        raise unpriced(tool, why, limit)
