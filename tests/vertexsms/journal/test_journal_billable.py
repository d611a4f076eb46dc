"""Every billable call guarded, limited and priced, through the real process against the emulator
(a loopback VertexSMS that counts requests): HLR lookups, the PIN SMS of a number's registration,
prices from /sms/cost or the rate card, unknown prices, sends made while the EUR limit was off."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from bridge import emulator_env, envelope, no_recipient_caps, ok, vertex
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.sandbox import Emulator, Fault
from vertex_stdio.vertexsms.sandbox.rest import rate_rows

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # each test starts vertex-stdio processes

SEND = {"to": "+37060000001", "from": "ACME", "message": "Your table is ready"}
HLR = {"msisdn": "+37060000001", "callBackUrl": "https://hooks.example/hlr"}
LT_QUOTE = 0.039  # the emulator's quote for +3706000…: Bite Lietuva's rate, one part
US_RATE = 0.0085  # the sandbox rate card's rate for every US operator


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """A process environment on the emulator, with one home (so one journal) for every process."""
    return emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
        **no_recipient_caps(tmp_path),  # these tests text one number many times on purpose
    )


@asynccontextmanager
async def serving(env: dict[str, str], **settings: str) -> AsyncIterator[Client]:
    """The real ``vertex-stdio`` process over stdio, with extra ``VERTEXSMS_*`` settings."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio"], env={**env, **settings}
    )
    async with Client(params, mode="legacy") as client:
        yield client


def history(env: dict[str, str], **settings: str) -> dict[str, Any]:
    done = vertex({**env, **settings}, "history", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def journal(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "vertex-stdio" / "journal.sqlite3"


def posts(emulator: Emulator, path: str) -> int:
    return len(emulator.journal_for("POST", path))


async def test_the_same_hlr_lookup_is_refused_with_the_earlier_outcome(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """A second lookup of the same number (typed another way) is DUPLICATE_SEND naming the first
    lookup; another number goes; the lookup is priced and journaled like a send."""
    async with serving(env) as client:
        first = ok(await client.call_tool("lookup_hlr", HLR))
        again = envelope(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "37060000001"}))
        zeros = envelope(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "0037060000001"}))
        other = ok(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "+37060000002"}))
    assert (again["code"], again["outcome"], again["retryable"]) == ("DUPLICATE_SEND", "not_sent", False)
    assert again["earlier_message_id"] == zeros["earlier_message_id"] == str(first["lookup_id"])
    assert again["earlier_outcome"] == "sent"
    assert "VERTEXSMS_DUPLICATE_WINDOW" in again["message"]
    assert f"(id {first['lookup_id']}, outcome sent)" in again["message"]
    assert "allow_duplicate" not in again["message"]  # lookup_hlr has no such escape
    assert posts(emulator, "/hlr") == 2
    assert first["price_eur"] == other["price_eur"] == LT_QUOTE
    records = [r for r in history(env)["records"] if r["tool"] == "lookup_hlr"]
    assert [(r["recipient"], r["price_eur"], r["parts"]) for r in records] == [
        ("+37060000002", LT_QUOTE, 1),
        ("+37060000001", LT_QUOTE, 1),
    ]


async def test_hlr_lookups_count_in_the_daily_and_eur_limits(emulator: Emulator, env: dict[str, str]) -> None:
    """With 3 messages a day, a send and two lookups use them up; the next lookup is SPEND_LIMIT.
    With a EUR limit of two lookups' price, the third lookup is refused by the EUR limit."""
    async with serving(env, VERTEXSMS_MAX_MESSAGES_PER_DAY="3") as client:
        ok(await client.call_tool("send_sms", SEND))
        ok(await client.call_tool("lookup_hlr", HLR))
        ok(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "+37060000002"}))
        over = envelope(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "+37060000003"}))
    assert (over["code"], over["setting"], over["count"]) == (
        "SPEND_LIMIT",
        "VERTEXSMS_MAX_MESSAGES_PER_DAY",
        3,
    )
    assert posts(emulator, "/hlr") == 2
    totals = history(env)["last_24h"]["real"]
    assert (totals["messages"], totals["recipients"]) == (3, 2)
    assert totals["eur"] == pytest.approx(3 * LT_QUOTE)
    async with serving(env, VERTEXSMS_MAX_EUR_PER_DAY=f"{4 * LT_QUOTE:.4f}") as client:
        ok(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "+37060000004"}))
        spent = envelope(await client.call_tool("lookup_hlr", {**HLR, "msisdn": "+37060000005"}))
    assert (spent["code"], spent["setting"]) == ("SPEND_LIMIT", "VERTEXSMS_MAX_EUR_PER_DAY")
    assert posts(emulator, "/hlr") == 3


async def test_sixty_registrations_stop_at_the_recipients_limit(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Each registration texts a PIN to its number: with the default 50 recipients a day, 60
    registrations of different numbers file 50 and refuse 10, and each PIN SMS is journaled and priced."""
    results = []
    async with serving(env) as client:
        for i in range(60):
            results.append(await client.call_tool("register_msisdn_sender", {"msisdn": f"+3706100{i:04d}"}))
    done = [ok(r) for r in results[:50]]
    refused = [envelope(r) for r in results[50:]]
    assert {(e["code"], e["setting"]) for e in refused} == {
        ("SPEND_LIMIT", "VERTEXSMS_MAX_RECIPIENTS_PER_DAY")
    }
    assert posts(emulator, "/senderId") == 50
    assert {d["price_eur"] for d in done} == {0.039}  # Telia Lietuva's rate for +37061…
    body = history(env)
    assert body["last_24h"]["real"]["recipients"] == 50
    assert all(r["price_eur"] == 0.039 and r["recipient"] for r in body["records"])


async def test_sends_made_with_the_eur_limit_off_count_when_it_is_set(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Ten sends with no EUR limit are priced all the same: history counts them against a limit set
    later, and a send that would cross that limit is refused."""
    async with serving(env) as client:
        for i in range(10):
            assert (
                ok(await client.call_tool("send_sms", {**SEND, "message": f"note {i}"}))["price_eur"]
                == LT_QUOTE
            )
    capped = {"VERTEXSMS_MAX_EUR_PER_DAY": "0.42"}
    totals = history(env, **capped)["last_24h"]["real"]
    assert totals["eur"] == pytest.approx(10 * LT_QUOTE)
    assert totals["unpriced"] == 0
    async with serving(env, **capped) as client:
        error = envelope(await client.call_tool("send_sms", {**SEND, "message": "one more"}))
    assert (error["code"], error["setting"], error["count"]) == (
        "SPEND_LIMIT",
        "VERTEXSMS_MAX_EUR_PER_DAY",
        0.39,
    )
    assert posts(emulator, "/sms") == 10


async def test_an_unknown_price_under_a_eur_limit_is_refused_and_nothing_is_sent(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """/sms/cost answering 503 and a rate card with no row for the country: with a 0.10 EUR limit a
    two-part send, a lookup and a registration are SPEND_LIMIT saying the price is unknown, and
    nothing reaches VertexSMS; with no limit the send goes, journaled with no price."""
    emulator.inject(
        Fault(method="POST", path="/sms/cost", status=503, body=b'{"message": "busy"}', times=None)
    )
    no_lt = [r for r in rate_rows() if r["CountryCode"] != "LT"]
    emulator.inject(
        Fault(method="GET", path="/rates/", status=200, body=json.dumps(no_lt).encode(), times=None)
    )
    async with serving(env, VERTEXSMS_MAX_EUR_PER_DAY="0.10") as client:
        errors = [
            envelope(await client.call_tool("send_sms", {**SEND, "message": "x" * 200})),
            envelope(await client.call_tool("lookup_hlr", HLR)),
            envelope(await client.call_tool("register_msisdn_sender", {"msisdn": "+37060000009"})),
        ]
    for error in errors:
        assert (error["code"], error["outcome"], error["price"]) == ("SPEND_LIMIT", "not_sent", "unknown")
        assert "price" in error["message"]
        assert "unknown" in error["message"]
        assert "country LT" in error["message"]
    assert posts(emulator, "/sms") + posts(emulator, "/hlr") + posts(emulator, "/senderId") == 0
    assert history(env)["records"] == []
    async with serving(env) as client:
        sent = ok(await client.call_tool("send_sms", {**SEND, "message": "x" * 200}))
    assert sent["price_eur"] is None
    assert "unknown" in sent["price_source"]
    (record,) = history(env)["records"]
    assert (record["price_eur"], record["parts"]) == (None, 2)


async def test_the_us_sample_number_is_priced_from_the_rate_card(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """+12025550123 names no operator: the emulator quotes the card's US rate, and a €0 quote from
    VertexSMS is "unknown", priced by the card's highest US rate, which the result and journal say."""
    us = {**SEND, "to": "+12025550123"}
    async with serving(env) as client:
        quote = ok(await client.call_tool("quote_sms", us))
        sent = ok(await client.call_tool("send_sms", {**us, "message": "two parts " + "x" * 160}))
        zero = [{"parts": 1, "countryISO": "US", "pricePerPart": 0.0, "totalPrice": 0.0, "currency": "EUR"}]
        emulator.inject(Fault(method="POST", path="/sms/cost", status=200, body=json.dumps(zero).encode()))
        card = ok(await client.call_tool("send_sms", {**us, "message": "a third one"}))
    assert (quote["total_eur"], quote["price_per_part_eur"], quote["source"]) == (
        US_RATE,
        US_RATE,
        "vertexsms",
    )
    assert (sent["parts"], sent["price_eur"]) == (2, 2 * US_RATE)
    assert card["price_eur"] == US_RATE
    assert "highest rate for US" in card["price_source"]
    by_parts = {r["parts"]: r for r in history(env)["records"]}
    assert by_parts[2]["price_eur"] == 2 * US_RATE
    assert by_parts[1]["price_eur"] == US_RATE
    assert by_parts[1]["price_source"] == "rate card: highest US rate"
    assert by_parts[2]["price_source"] == "VertexSMS quote"


def _old_journal(path: Path, rows: int) -> None:
    """A journal made by an earlier release: no price_source column, sends stored with no price."""
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE calls (id INTEGER PRIMARY KEY, tool TEXT NOT NULL, kind TEXT NOT NULL, "
        "started REAL NOT NULL, outcome TEXT NOT NULL, recipient TEXT, sender TEXT, digest TEXT, "
        "preview TEXT, parts INTEGER, price_eur REAL, message_id TEXT, detail TEXT, finished REAL, "
        "pid INTEGER, client TEXT)"
    )
    now = time.time()
    for i in range(rows):
        db.execute(
            "INSERT INTO calls (tool, kind, started, outcome, recipient, sender, digest, parts, message_id) "
            "VALUES ('send_sms', 'real', ?, 'sent', '+37060000001', 'ACME', ?, 2, ?)",
            (now - 3600 + i, f"d{i}", f"old-{i}"),
        )
    db.commit()
    db.close()


async def test_unpriced_records_of_an_older_journal_count_at_the_highest_rate(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Five two-part sends stored with no price are never €0: under a EUR limit they count at the
    highest price per part known (here the new send's 0.039), so 10 parts = 0.39 EUR already."""
    _old_journal(journal(env), 5)
    async with serving(env, VERTEXSMS_MAX_EUR_PER_DAY="0.45") as client:
        first = ok(await client.call_tool("send_sms", SEND))
        error = envelope(await client.call_tool("send_sms", {**SEND, "message": "another"}))
    assert first["price_eur"] == LT_QUOTE
    assert (error["code"], error["setting"], error["count"]) == (
        "SPEND_LIMIT",
        "VERTEXSMS_MAX_EUR_PER_DAY",
        0.429,
    )
    assert posts(emulator, "/sms") == 1
    totals = history(env)["last_24h"]["real"]
    assert (totals["unpriced"], totals["eur"]) == (5, pytest.approx(11 * LT_QUOTE))
    assert SqliteStore(journal(env)).records(0)[0].price_source == "VertexSMS quote"
