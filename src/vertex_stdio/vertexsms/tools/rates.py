"""The rate card, fetched once an hour per token and shared by concurrent calls."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from vertex_stdio.core.credentials import SignInPrompt, TokenProvider
from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.api.rest import RestUpstream

RATES = Operation(tool="get_sms_rates", scope="sms:rates", costs_or_changes=False)
RATE_CARD_TTL = 3600.0


@dataclass(frozen=True)
class _Card:
    rows: tuple[dict[str, Any], ...]
    fetched_at: float


class RateCard:
    """``GET /rates/?format=json``, cached for an hour per token (the hosted server does the same)."""

    def __init__(
        self,
        rest: RestUpstream,
        tokens: TokenProvider,
        *,
        ttl: float = RATE_CARD_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rest = rest
        self._tokens = tokens
        self._ttl = ttl
        self._clock = clock
        self._cards: dict[str, _Card] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def rows(self, prompt: SignInPrompt | None = None) -> tuple[tuple[dict[str, Any], ...], float]:
        """The card's rows and their age in seconds; one request per token per hour."""
        token = await self._tokens.token([RATES.scope], prompt)
        key = hashlib.sha256(token.encode()).hexdigest()
        card = self._fresh(key)
        if card is None:
            lock = self._locks.setdefault(key, anyio.Lock())
            async with lock:
                card = self._fresh(key) or await self._fetch(key, prompt)
        return card.rows, self._clock() - card.fetched_at

    def cached_rows(self) -> tuple[dict[str, Any], ...]:
        """The rows of a fresh cached card, if any (no request, no token needed)."""
        fresh = [c for c in self._cards.values() if self._clock() - c.fetched_at < self._ttl]
        return fresh[-1].rows if fresh else ()

    def _fresh(self, key: str) -> _Card | None:
        card = self._cards.get(key)
        if card is not None and self._clock() - card.fetched_at < self._ttl:
            return card
        return None

    async def _fetch(self, key: str, prompt: SignInPrompt | None) -> _Card:
        response = await self._rest.call(RATES, "GET", "/rates/", params={"format": "json"}, prompt=prompt)
        rows = response.json(RATES)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UpstreamError("VertexSMS sent a rate card in an unexpected shape; try again later.")
        card = _Card(rows=tuple(rows), fetched_at=self._clock())
        self._cards = {k: v for k, v in self._cards.items() if self._clock() - v.fetched_at < self._ttl}
        self._cards[key] = card
        return card


def field(row: dict[str, Any], name: str) -> Any:
    """A rate-card field read case-insensitively (the docs show both ``MCC`` and ``mcc``)."""
    if name in row:
        return row[name]
    lowered = name.lower()
    for key, value in row.items():
        if key.lower() == lowered:
            return value
    return None


def text_or_none(value: Any) -> str | None:
    """MCC/MNC as text: the card has them as strings, numbers or null."""
    if value is None or value == "":
        return None
    return str(value)
