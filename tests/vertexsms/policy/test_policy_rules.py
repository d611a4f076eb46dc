"""The policy file read and judged in-process: values, sources, problems, quiet hours by zone,
confirmation, and the caps counted by the journal with a settable clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mcp import Client

from bridge import envelope, ok, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.policy import (
    Policy,
    Usage,
    counted_breach,
    needs_confirmation,
    parse,
    static_breach,
)
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.server import build_server

FILE = Path("/etc/vertex/policy.toml")


def policy(text: str, **env: str) -> Policy:
    return parse(text, FILE, env)


def at(zone: str, hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, 7, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def test_defaults_apply_without_a_file() -> None:
    """The named defaults, each from 'default'; the rest off."""
    found = parse(None, None, {})
    assert found.problem is None
    assert {k: v.value for k, v in found.values.items() if v.value is not None} == {
        "confirm_above_eur": 0.5,
        "confirm_new_recipients": True,
        "max_per_recipient_per_day": 5,
        "max_per_recipient_per_hour": 3,
        "max_messages_per_day": 100,
        "max_recipients_per_day": 50,
        "max_parts": 10,
    }
    assert {v.source for v in found.values.values()} == {"default"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("max_parts = 4\nquiet_hours = '9pm-8am'\n", 2, "HH:MM-HH:MM"),
        ("allowed_recipients = ['37060000001']\n", 1, "international"),
        ("allowed_countries = ['Lithuania']\n", 1, "alpha-2"),
        ("confirm_new_recipients = 'yes'\n", 1, "true or false"),
        ("max_eur_per_month = -1\n", 1, "amount in EUR"),
        ("\n\nmax_per_recipient_per_hour = 2.5\n", 3, "whole number"),
        ("quiet_hours = \n", 1, "Invalid value"),
        ("\n\nsend_anything = true\n", 3, "unknown rule 'send_anything'"),
    ],
)
def test_a_bad_rule_is_a_problem_naming_the_file_and_line(text: str, line: int, words: str) -> None:
    found = policy(text)
    assert found.problem is not None
    assert str(FILE) in found.problem
    assert words in found.problem
    assert f"line {line}" in found.problem or f"(at line {line}" in found.problem
    breach = static_breach(found, "get_anything", None, 0.0)
    assert breach is not None
    assert breach.rule == "policy file"


def test_numbers_and_prefixes_are_read_as_the_guard_reads_them() -> None:
    found = policy('allowed_recipients = ["+370 6", "00371-2", "+1 (310) 555-0123"]')
    assert found.get("allowed_recipients") == ("+3706", "+3712", "+13105550123")
    assert static_breach(found, "send_sms", "+37060000001", 0.0) is None
    assert static_breach(found, "send_sms", "+37160000001", 0.0) is not None


def test_a_variable_that_is_set_overrides_the_file() -> None:
    found = policy("max_messages_per_day = 7\nmax_parts = 2\n", VERTEXSMS_MAX_PARTS="5")
    assert (found.get("max_parts"), found.values["max_parts"].source) == (5, "VERTEXSMS_MAX_PARTS")
    assert found.values["max_messages_per_day"].source == f"{FILE} line 1"


def test_quiet_hours_wrap_midnight_and_cover_every_zone_of_a_country() -> None:
    """21:00-08:00: 22:30 and 07:59 in Vilnius are quiet, 08:00 is not; the US is quiet at 22:00
    in Honolulu though New York is at 03:00 (also quiet) — and at 20:30 in Honolulu New York is
    at 01:30: quiet because one of its zones is."""
    found = policy('quiet_hours = "21:00-08:00"')
    lt = "+37060000001"
    assert static_breach(found, "send_sms", lt, at("Europe/Vilnius", 22, 30)) is not None
    assert static_breach(found, "send_sms", lt, at("Europe/Vilnius", 7, 59)) is not None
    assert static_breach(found, "send_sms", lt, at("Europe/Vilnius", 8, 0)) is None
    # 12:00 in New York is 07:00 in Honolulu: quiet there, so quiet for the US.
    breach = static_breach(found, "send_sms", "+13105550123", at("America/New_York", 12, 0))
    assert breach is not None
    assert breach.rule == "quiet_hours"
    assert static_breach(found, "send_sms", "+13105550123", at("America/New_York", 15, 0)) is None
    # A lookup texts nobody: quiet hours do not apply to it.
    assert static_breach(found, "lookup_hlr", lt, at("Europe/Vilnius", 23, 0)) is None


def test_caps_refuse_at_their_value() -> None:
    found = policy("max_messages_per_month = 10\nmax_eur_per_month = 1.0\n")
    assert counted_breach(found, 0.05, Usage(recipient_hour=2)) is None
    assert counted_breach(found, 0.05, Usage(recipient_hour=3)).rule == "max_per_recipient_per_hour"  # type: ignore[union-attr]
    assert counted_breach(found, 0.05, Usage(recipient_day=5)).rule == "max_per_recipient_per_day"  # type: ignore[union-attr]
    assert counted_breach(found, 0.05, Usage(month_messages=10)).rule == "max_messages_per_month"  # type: ignore[union-attr]
    assert counted_breach(found, 0.05, Usage(month_eur=0.95)) is None
    assert counted_breach(found, 0.06, Usage(month_eur=0.95)).rule == "max_eur_per_month"  # type: ignore[union-attr]
    assert counted_breach(found, None, Usage()).rule == "max_eur_per_month"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "env", "price", "new", "asks"),
    [
        ("", {}, 0.04, False, False),
        ("", {}, 0.04, True, True),
        ("", {}, 0.51, False, True),
        ("", {}, None, False, True),
        ("confirm_new_recipients = false", {}, 0.04, True, False),
        ("confirm_above_eur = 0", {}, 0.01, False, True),
        ("confirm_above_eur = 0", {"VERTEXSMS_CONFIRM_SENDS": "0"}, 0.01, True, False),
    ],
)
def test_which_sends_need_a_persons_yes(
    text: str, env: dict[str, str], price: float | None, new: bool, asks: bool
) -> None:
    assert needs_confirmation(parse(text, FILE, env), price, new) is asks


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_the_day_cap_and_hour_brake_follow_the_clock(emulator: Emulator, tmp_path: Path) -> None:
    """Defaults 3 an hour and 5 a day: the 4th send in an hour waits an hour; the 6th in a day
    waits until the first is a day old; refusals are not counted."""
    clock = Clock()
    settings = settings_for(emulator)
    journal = journal_for(settings, path=tmp_path / "j.sqlite3", clock=clock, policy=parse(None, None, {}))
    server = build_server(settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal)

    def send(i: int) -> dict[str, str]:
        return {"to": "+37060000001", "from": "ACME", "message": f"note {i}"}

    async with Client(server, mode="legacy") as client:
        for i in range(3):
            ok(await client.call_tool("send_sms", send(i)))
        assert envelope(await client.call_tool("send_sms", send(3)))["rule"] == "max_per_recipient_per_hour"
        clock.now += 3601
        for i in range(4, 6):
            ok(await client.call_tool("send_sms", send(i)))
        assert envelope(await client.call_tool("send_sms", send(6)))["rule"] == "max_per_recipient_per_day"
        clock.now += 24 * 3600 - 3600
        ok(await client.call_tool("send_sms", send(7)))
    assert len(emulator.journal_for("POST", "/sms")) == 6
