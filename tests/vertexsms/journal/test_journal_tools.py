"""The journal through the tools: duplicate guard, limits, kinds, quotes, status, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from bridge import envelope, ok, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import SendJournal, journal_for
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator, Fault
from vertex_stdio.vertexsms.server import build_server

pytestmark = pytest.mark.anyio

SEND = {"to": "+37060000001", "from": "ACME", "message": "Your parcel is ready"}


class Clock:
    """A settable wall clock for the journal (window and limit edges without sleeping)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def bridge(
    emulator: Emulator, path: Path, clock: Clock | None = None, **changes: Any
) -> AsyncIterator[Client]:
    settings = settings_for(emulator, **{"duplicate_window": 10, **changes})
    journal = journal_for(settings, path=path, clock=clock)
    server = build_server(settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal)
    async with Client(server, mode="legacy") as client:
        yield client


def _sends(emulator: Emulator) -> int:
    return len(emulator.journal_for("POST", "/sms"))


async def test_an_identical_send_inside_the_window_is_refused_and_sent_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The second identical send is DUPLICATE_SEND with the first's id; after 10 minutes it goes."""
    clock = Clock()
    async with bridge(emulator, tmp_path / "j.sqlite3", clock) as client:
        first = ok(await client.call_tool("send_sms", SEND))
        clock.now += 599
        error = envelope(await client.call_tool("send_sms", SEND))
        assert error["code"] == "DUPLICATE_SEND"
        assert error["earlier_message_id"] == first["message_id"]
        assert error["earlier_outcome"] == "sent"
        assert (error["retryable"], error["outcome"]) == (False, "not_sent")
        assert "allow_duplicate" in error["message"]
        assert _sends(emulator) == 1
        again = ok(await client.call_tool("send_sms", {**SEND, "allow_duplicate": True}))
        assert again["message_id"] != first["message_id"]
        clock.now += 602
        ok(await client.call_tool("send_sms", SEND))
    assert _sends(emulator) == 3


async def test_a_different_text_or_recipient_is_not_a_duplicate(emulator: Emulator, tmp_path: Path) -> None:
    """Only same recipient, sender and text count."""
    async with bridge(emulator, tmp_path / "j.sqlite3") as client:
        ok(await client.call_tool("send_sms", SEND))
        ok(await client.call_tool("send_sms", {**SEND, "message": "Your parcel is late"}))
        ok(await client.call_tool("send_sms", {**SEND, "to": "+37060000002"}))
    assert _sends(emulator) == 3


async def test_messages_per_day_stop_at_the_limit(emulator: Emulator, tmp_path: Path) -> None:
    """With a limit of 5, sends 1-5 go and the 6th is SPEND_LIMIT naming limit, count and setting."""
    async with bridge(emulator, tmp_path / "j.sqlite3", max_messages_per_day=5) as client:
        # Five recipients: the policy's default per-recipient caps (3 an hour) stay out of the way.
        for i in range(5):
            ok(await client.call_tool("send_sms", {**SEND, "to": f"+3706000000{i}", "message": f"note {i}"}))
        error = envelope(await client.call_tool("send_sms", {**SEND, "message": "one too many"}))
    assert error["code"] == "SPEND_LIMIT"
    assert (error["setting"], error["count"], error["maximum"]) == ("VERTEXSMS_MAX_MESSAGES_PER_DAY", 5, 5)
    assert error["outcome"] == "not_sent"
    assert "VERTEXSMS_MAX_MESSAGES_PER_DAY" in error["message"]
    assert _sends(emulator) == 5


async def test_recipients_and_parts_limits(emulator: Emulator, tmp_path: Path) -> None:
    """A third distinct recipient over a limit of 2, and a 3-part text over a limit of 2, are refused."""
    async with bridge(emulator, tmp_path / "j.sqlite3", max_recipients_per_day=2, max_parts=2) as client:
        ok(await client.call_tool("send_sms", {**SEND, "to": "+37060000001"}))
        ok(await client.call_tool("send_sms", {**SEND, "to": "+37060000002"}))
        ok(await client.call_tool("send_sms", {**SEND, "to": "+37060000002", "message": "again"}))
        third = envelope(await client.call_tool("send_sms", {**SEND, "to": "+37060000003"}))
        long = envelope(await client.call_tool("send_sms", {**SEND, "message": "x" * 307}))
    assert (third["code"], third["setting"]) == ("SPEND_LIMIT", "VERTEXSMS_MAX_RECIPIENTS_PER_DAY")
    assert (long["code"], long["setting"], long["count"]) == ("SPEND_LIMIT", "VERTEXSMS_MAX_PARTS", 3)
    assert _sends(emulator) == 3


async def test_eur_limit_uses_the_quote(emulator: Emulator, tmp_path: Path) -> None:
    """With a EUR limit the send is quoted first; the send that would cross it is refused."""
    async with bridge(emulator, tmp_path / "j.sqlite3", max_eur_per_day=0.1) as client:
        quote = ok(await client.call_tool("quote_sms", SEND))
        price = quote["total_eur"]
        assert price is not None
        assert price > 0
        sent = 0
        while True:
            result = await client.call_tool("send_sms", {**SEND, "message": f"n{sent}"})
            if result.is_error:
                break
            assert ok(result)["price_eur"] == price
            sent += 1
    error = envelope(result)
    assert (error["code"], error["setting"]) == ("SPEND_LIMIT", "VERTEXSMS_MAX_EUR_PER_DAY")
    assert sent == int(0.1 // price + 1e-9)
    assert _sends(emulator) == sent


async def test_sandbox_and_test_mode_sends_are_counted_apart(emulator: Emulator, tmp_path: Path) -> None:
    """A limit reached by test-mode sends does not stop real ones, and the journal marks each kind."""
    path = tmp_path / "j.sqlite3"
    async with bridge(emulator, path, max_messages_per_day=1, test_mode="1") as client:
        ok(await client.call_tool("send_sms", SEND))
        assert envelope(await client.call_tool("send_sms", {**SEND, "message": "b"}))["code"] == "SPEND_LIMIT"
    async with bridge(emulator, path, max_messages_per_day=1) as client:
        ok(await client.call_tool("send_sms", SEND))  # not a duplicate of the test send either
    kinds = sorted(r.kind for r in SqliteStore(path).records(0))
    assert kinds == ["real", "test"]


async def test_every_billable_tool_is_journaled(emulator: Emulator, tmp_path: Path) -> None:
    """HLR and sender registration are recorded with their ids, like sends."""
    path = tmp_path / "j.sqlite3"
    async with bridge(emulator, path) as client:
        hlr = ok(
            await client.call_tool(
                "lookup_hlr", {"msisdn": "+37060000001", "callBackUrl": "https://x.example/cb"}
            )
        )
        reg = ok(await client.call_tool("register_msisdn_sender", {"msisdn": "+37060000009"}))
        ok(await client.call_tool("confirm_msisdn_sender", {"sender_id": reg["sender_id"], "code": "12345"}))
        ok(await client.call_tool("get_operator", {"operatorId": 1101}))  # free: not journaled
    rows = {r.tool: r for r in SqliteStore(path).records(0)}
    assert set(rows) == {"lookup_hlr", "register_msisdn_sender", "confirm_msisdn_sender"}
    assert rows["lookup_hlr"].message_id == str(hlr["lookup_id"])
    assert all(r.outcome == "sent" for r in rows.values())


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_outcomes_are_recorded_truthfully(emulator: Emulator, tmp_path: Path) -> None:
    """A refused send is `refused`, a dropped answer `unknown`, a refused connection `not_sent`."""
    path = tmp_path / "j.sqlite3"
    emulator.inject(Fault(method="POST", path="/sms", status=400, body=b'{"message": "bad sender"}'))
    emulator.inject(Fault(method="POST", path="/sms", drop_after_processing=True))
    async with bridge(emulator, path) as client:
        refused = envelope(await client.call_tool("send_sms", {**SEND, "message": "a"}))
        lost = envelope(await client.call_tool("send_sms", {**SEND, "message": "b"}))
        retry = envelope(await client.call_tool("send_sms", {**SEND, "message": "b"}))
    async with bridge(emulator, path, api_url="http://127.0.0.1:9") as client:
        never = envelope(await client.call_tool("send_sms", {**SEND, "message": "c"}))
    assert (refused["outcome"], lost["outcome"], never["outcome"]) == ("refused", "unknown", "not_sent")
    assert (lost["retryable"], never["retryable"]) == (False, True)
    assert "get_sms_status" in lost["message"]
    assert retry["code"] == "DUPLICATE_SEND"  # the unknown one blocks a blind resend
    by_preview = {r.preview: r.outcome for r in SqliteStore(path).records(0)}
    assert by_preview == {"a": "refused", "b": "unknown", "c": "not_sent"}


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_tls_failure_before_the_request_is_not_sent(emulator: Emulator, tmp_path: Path) -> None:
    """https:// to a plain-http port fails in the TLS handshake: no request left, so not_sent."""
    https = emulator.api_url.replace("http://", "https://")
    async with bridge(emulator, tmp_path / "j.sqlite3", api_url=https) as client:
        error = envelope(await client.call_tool("send_sms", SEND))
    assert (error["outcome"], error["retryable"]) == ("not_sent", True)
    assert _sends(emulator) == 0


async def test_quote_falls_back_to_the_rate_card(emulator: Emulator, tmp_path: Path) -> None:
    """Without /sms/cost the quote is our part count times the country's highest rate, and says so."""
    emulator.inject(Fault(method="POST", path="/sms/cost", status=404, times=None))
    async with bridge(emulator, tmp_path / "j.sqlite3") as client:
        quote = ok(await client.call_tool("quote_sms", {**SEND, "message": "ž" * 71}))
        rates = ok(await client.call_tool("get_sms_rates", {"country": "LT"}))
    highest = max(float(r["rate_eur"]) for r in rates["rates"])
    assert (quote["source"], quote["parts"], quote["encoding"], quote["country"]) == (
        "estimate",
        2,
        "UCS-2",
        "LT",
    )
    assert quote["total_eur"] == pytest.approx(2 * highest)
    assert _sends(emulator) == 0


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_status_changes_and_carries_the_journal_record(emulator: Emulator, tmp_path: Path) -> None:
    """get_sms_status: pending at first, delivered a little later, with the send's journal record."""
    async with bridge(emulator, tmp_path / "j.sqlite3") as client:
        sent = ok(await client.call_tool("send_sms", SEND))
        assert "not delivered" in sent["note"]
        assert "get_sms_status" in sent["note"]
        first = ok(await client.call_tool("get_sms_status", {"message_id": sent["message_id"]}))
        with anyio.fail_after(10):
            while (later := ok(await client.call_tool("get_sms_status", {"message_id": sent["message_id"]})))[
                "status"
            ] == "pending":
                await anyio.sleep(0.2)
        missing = envelope(await client.call_tool("get_sms_status", {"message_id": "nope-1"}))
    assert first["status"] == "pending"
    assert (later["status"], later["error"]) == ("delivered", "no error")
    assert later["journal"]["outcome"] == "sent"
    assert later["journal"]["recipient"] == SEND["to"]
    assert (later["journal"]["price_eur"], later["journal"]["price_source"]) == (0.039, "VertexSMS quote")
    assert missing["code"] == "NOT_FOUND"


async def test_a_corrupt_journal_stops_billable_tools_only(emulator: Emulator, tmp_path: Path) -> None:
    """A damaged file: send_sms answers a clear error and sends nothing; free tools still work."""
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"garbage" * 500)
    async with bridge(emulator, path) as client:
        error = envelope(await client.call_tool("send_sms", SEND))
        ok(await client.call_tool("get_operator", {"operatorId": 1101}))
        ok(await client.call_tool("quote_sms", SEND))
    assert error["outcome"] == "not_sent"
    assert "damaged" in error["message"]
    assert "doctor" in error["message"]
    assert _sends(emulator) == 0


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_cancel_then_retry_sends_once(emulator: Emulator, tmp_path: Path) -> None:
    """A send cancelled while VertexSMS is slow still completes and is recorded; the retry is refused."""
    path = tmp_path / "j.sqlite3"
    emulator.inject(Fault(method="POST", path="/sms", delay=1.0))
    async with bridge(emulator, path) as client:
        with anyio.move_on_after(0.3):
            await client.call_tool("send_sms", SEND)
        with anyio.fail_after(10):
            while not (rows := SqliteStore(path).records(0)) or rows[0].outcome == "pending":
                await anyio.sleep(0.1)
        retry = envelope(await client.call_tool("send_sms", SEND))
    assert rows[0].outcome == "sent"
    assert rows[0].message_id
    assert (retry["code"], retry["earlier_message_id"]) == ("DUPLICATE_SEND", rows[0].message_id)
    assert _sends(emulator) == 1


def test_journal_text_is_never_stored(tmp_path: Path) -> None:
    """The file holds a digest and a digit-masked preview, never the message or its codes."""
    journal = SendJournal.at(tmp_path / "j.sqlite3")
    del journal
    from vertex_stdio.vertexsms.journal.records import preview

    assert preview("Your code is 493021, valid 5 min") == "Your code is ••••••, va…"
    assert json.dumps(preview("x")) == '"x"'


async def test_a_refused_token_is_one_refused_record_and_no_second_post(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A 401 with no other token at hand: one POST, one record `refused` (with its HTTP status),
    no retry; the same send afterwards is not a duplicate of the refused one and goes."""
    path = tmp_path / "j.sqlite3"
    emulator.inject(Fault(method="POST", path="/sms", status=401, headers={"www-authenticate": "Bearer"}))
    async with bridge(emulator, path) as client:
        refused = envelope(await client.call_tool("send_sms", SEND))
        assert _sends(emulator) == 1
        again = ok(await client.call_tool("send_sms", SEND))
    assert (refused["code"], refused["outcome"]) == ("AUTH_INVALID", "refused")
    assert _sends(emulator) == 2
    records = sorted(SqliteStore(path).records(0), key=lambda r: r.id)
    assert [r.outcome for r in records] == ["refused", "sent"]
    assert "HTTP 401" in (records[0].detail or "")
    assert records[1].message_id == again["message_id"]
