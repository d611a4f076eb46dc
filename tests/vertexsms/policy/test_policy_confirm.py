"""Which sends the form confirmation asks about under the policy: a new recipient and a price
above confirm_above_eur are asked; a cheap send to a known number is not; 0 asks for every send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from bridge import ok, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.policy import parse
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.server import build_server

pytestmark = pytest.mark.anyio


class Person:
    """Says yes to every question, and remembers them."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        return ElicitResult(action="accept", content={"send": True})


async def _asked(emulator: Emulator, path: Path, policy: str, sends: list[dict[str, str]]) -> list[str]:
    settings = settings_for(emulator, confirm_sends=True)  # the helper turns it off
    journal = journal_for(settings, path=path, policy=parse(policy, path.with_suffix(".toml"), {}))
    person = Person()
    server = build_server(settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal)
    async with Client(server, mode="legacy", elicitation_callback=person) as client:
        for send in sends:
            ok(await client.call_tool("send_sms", send))
    return person.asked


def _send(to: str, text: str) -> dict[str, str]:
    return {"to": to, "from": "ACME", "message": text}


async def test_the_defaults_ask_for_a_new_recipient_only(emulator: Emulator, tmp_path: Path) -> None:
    """€0.039 a part: the first send to a number is asked about, the second to it is not."""
    sends = [_send("+37060000001", "one"), _send("+37060000001", "two"), _send("+37060000002", "three")]
    asked = await _asked(emulator, tmp_path / "j.sqlite3", "", sends)
    assert len(asked) == 2
    assert "+37060000001" in asked[0]
    assert "+37060000002" in asked[1]


async def test_a_price_above_the_threshold_is_asked_even_for_a_known_number(
    emulator: Emulator, tmp_path: Path
) -> None:
    """confirm_above_eur = 0.05 and new recipients not asked: a 1-part send is not asked, a
    2-part one (€0.078) is."""
    policy = "confirm_above_eur = 0.05\nconfirm_new_recipients = false\n"
    sends = [_send("+37060000001", "short"), _send("+37060000001", "long " + "x" * 300)]
    asked = await _asked(emulator, tmp_path / "j.sqlite3", policy, sends)
    assert len(asked) == 1
    assert "2 SMS parts" in asked[0]


async def test_zero_asks_for_every_send(emulator: Emulator, tmp_path: Path) -> None:
    sends = [_send("+37060000001", "one"), _send("+37060000001", "two")]
    asked = await _asked(emulator, tmp_path / "j.sqlite3", "confirm_above_eur = 0\n", sends)
    assert len(asked) == 2
