"""The price book against the emulator: one price per request body, kept ten minutes when known
and one minute when unknown, so a confirmation and its call agree and a passing 503 passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge import settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator, Fault
from vertex_stdio.vertexsms.sandbox.rest import rate_rows
from vertex_stdio.vertexsms.server import make_lifespan
from vertex_stdio.vertexsms.tools.pricing import PriceBook

pytestmark = pytest.mark.anyio

BODY = {"to": "37060000001", "from": "ACME", "message": "Your table is ready"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _no_price(emulator: Emulator) -> None:
    """/sms/cost fails and the rate card has no row for LT: the price cannot be known."""
    emulator.inject(Fault(method="POST", path="/sms/cost", status=503, times=None))
    no_lt = [r for r in rate_rows() if r["CountryCode"] != "LT"]
    emulator.inject(
        Fault(method="GET", path="/rates/", status=200, body=json.dumps(no_lt).encode(), times=None)
    )


async def test_known_prices_are_kept_ten_minutes_and_unknown_ones_one(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Unknown at first and still unknown 59 s later (no new quote); known after a minute; that known
    price is reused for ten minutes even while VertexSMS fails, then asked for again."""
    settings = settings_for(emulator)
    lifespan = make_lifespan(
        settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal_for(settings, path=tmp_path / "j")
    )
    clock = Clock()
    async with lifespan(None) as svc:  # type: ignore[arg-type]
        svc.prices = book = PriceBook(clock=clock)
        _no_price(emulator)
        assert (await book.of_message(svc, BODY, None)).eur is None
        quotes = len(emulator.journal_for("POST", "/sms/cost"))
        emulator.clear_faults()
        clock.now += 59
        assert (await book.of_message(svc, BODY, None)).eur is None
        assert len(emulator.journal_for("POST", "/sms/cost")) == quotes  # kept: no new quote
        clock.now += 2
        known = await book.of_message(svc, BODY, None)
        assert (known.eur, known.source) == (0.039, "vertexsms")
        _no_price(emulator)
        clock.now += 598
        assert await book.of_message(svc, BODY, None) == known
        clock.now += 3
        assert (await book.of_message(svc, BODY, None)).eur is None
