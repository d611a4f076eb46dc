"""The spending policy through the real process over stdio, against a loopback VertexSMS (the
emulator) and in sandbox mode: each rule refuses exactly the sends it should, refusals are
POLICY_REFUSED and journaled ``refused``, and processes share the opt-out list and the caps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mcp import Client, StdioServerParameters

from bridge import emulator_env, envelope, ok, process_env
from vertex_stdio.core.launcher import command
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

LT, LT2, LV, US = "+37060000001", "+37060000002", "+37120000001", "+13105550123"


def send(to: str, text: str = "Your table is ready") -> dict[str, Any]:
    return {"to": to, "from": "ACME", "message": text}


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """One home (so one journal and one opt-out list) for every process; no policy file yet."""
    return emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
    )


def write_policy(env: dict[str, str], text: str) -> Path:
    """``text`` as the policy file every process of ``env`` reads (``VERTEXSMS_POLICY``)."""
    path = Path(env["HOME"]) / "policy.toml"
    path.write_text(text, encoding="utf-8")
    env["VERTEXSMS_POLICY"] = str(path)
    return path


@asynccontextmanager
async def served(env: dict[str, str]) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=env)
    async with Client(params, mode="legacy") as client:
        yield client


def vertex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=60
    )


def refused(result: Any, rule: str) -> dict[str, Any]:
    """The POLICY_REFUSED envelope of ``result``, checked against the contract's fields."""
    error = envelope(result)
    assert error["code"] == "POLICY_REFUSED", error
    assert (error["rule"], error["retryable"], error["outcome"]) == (rule, False, "not_sent")
    assert "vertex-stdio policy" in error["message"]
    return error


def sent_to(emulator: Emulator) -> list[str]:
    return ["+" + json.loads(call.body)["to"] for call in emulator.journal_for("POST", "/sms")]


def quiet_around_now(zone: str) -> str:
    """Quiet hours from an hour before to an hour after now in ``zone``."""
    now = datetime.now(ZoneInfo(zone))
    return f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"


async def test_allowed_recipients_and_countries_refuse_only_the_others(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Prefixes written every way (+3706, 00370 6) and countries: only matching sends go."""
    path = write_policy(env, 'allowed_recipients = ["+3706", "00 371 2"]\nallowed_countries = ["lt"]\n')
    async with served(env) as client:
        ok(await client.call_tool("send_sms", send(LT)))
        error = refused(await client.call_tool("send_sms", send(US)), "allowed_recipients")
        assert error["value"] == ["+3706", "+3712"]
        assert error["change"] == f"{path} line 1"
        # On the recipients list, but Latvia is not an allowed country.
        error = refused(await client.call_tool("send_sms", send(LV)), "allowed_countries")
        assert (error["value"], error["change"]) == (["LT"], f"{path} line 2")
    assert sent_to(emulator) == [LT]


async def test_the_loop_brake_stops_a_fourth_send_to_one_person_by_default(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """No policy file: three sends an hour to one number go, the fourth is refused; others still go."""
    async with served(env) as client:
        for i in range(3):
            ok(await client.call_tool("send_sms", send(LT, f"note {i}")))
        error = refused(await client.call_tool("send_sms", send(LT, "note 3")), "max_per_recipient_per_hour")
        assert error["value"] == 3
        assert "max_per_recipient_per_hour" in error["change"]
        assert "policy.toml" in error["change"]
        ok(await client.call_tool("send_sms", send(LT2, "note 4")))
    assert sent_to(emulator) == [LT] * 3 + [LT2]
    records = json.loads(vertex(env, "history", "--json").stdout)["records"]
    (refusal,) = [r for r in records if r["outcome"] == "refused"]
    assert (refusal["recipient"], refusal["detail"]) == (LT, "POLICY_REFUSED: max_per_recipient_per_hour")


async def test_the_monthly_message_cap_counts_lookups_too(emulator: Emulator, env: dict[str, str]) -> None:
    """max_messages_per_month = 2: a send and an HLR lookup use it up; the next of either is refused."""
    write_policy(env, "max_messages_per_month = 2\n")
    hlr = {"msisdn": LV, "callBackUrl": "https://example.com/hlr"}
    async with served(env) as client:
        ok(await client.call_tool("send_sms", send(LT)))
        ok(await client.call_tool("lookup_hlr", hlr))
        refused(await client.call_tool("send_sms", send(LT2)), "max_messages_per_month")
        refused(await client.call_tool("lookup_hlr", {**hlr, "msisdn": LT2}), "max_messages_per_month")
    assert sent_to(emulator) == [LT]
    assert len(emulator.journal_for("POST", "/hlr")) == 1


async def test_quiet_hours_hold_in_the_recipients_time_and_in_any_zone_of_a_country(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Quiet now in Honolulu: a US number is refused (one of its zones is quiet), Vilnius is not
    quiet, so a Lithuanian one goes; quiet now in Vilnius: the other way round."""
    write_policy(env, f'quiet_hours = "{quiet_around_now("Pacific/Honolulu")}"\n')
    async with served(env) as client:
        error = refused(await client.call_tool("send_sms", send(US)), "quiet_hours")
        assert "Pacific/Honolulu" in error["message"] or "America/Adak" in error["message"]
        ok(await client.call_tool("send_sms", send(LT)))
    write_policy(env, f'quiet_hours = "{quiet_around_now("Europe/Vilnius")}"\n')
    async with served(env) as client:
        error = refused(await client.call_tool("send_sms", send(LT2)), "quiet_hours")
        assert "Europe/Vilnius" in error["message"]
        ok(await client.call_tool("send_sms", send(US)))
    assert sent_to(emulator) == [LT, US]


async def test_a_broken_policy_file_refuses_money_and_keeps_free_tools(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """An unknown rule on line 2: the server starts, quote_sms works, send_sms and lookup_hlr are
    refused naming the file and the line, and `vertex-stdio policy` exits 1 saying the same."""
    path = write_policy(env, "max_per_recipient_per_day = 4\nmax_per_recipeint_per_hour = 2\n")
    async with served(env) as client:
        ok(await client.call_tool("quote_sms", send(LT)))
        error = refused(await client.call_tool("send_sms", send(LT)), "policy file")
        assert f"{path} line 2" in error["message"]
        assert "max_per_recipeint_per_hour" in error["message"]
        hlr = {"msisdn": LT, "callBackUrl": "https://example.com/hlr"}
        refused(await client.call_tool("lookup_hlr", hlr), "policy file")
    assert sent_to(emulator) == []
    checked = vertex(env, "policy")
    assert checked.returncode == 1
    assert f"{path} line 2" in checked.stderr
    assert "unknown rule" in checked.stderr


def test_policy_prints_each_value_with_its_source(env: dict[str, str]) -> None:
    """File line, variable and default, in text and JSON."""
    path = write_policy(env, "# mine\nconfirm_above_eur = 0.2\nmax_parts = 4\n")
    shown = vertex({**env, "VERTEXSMS_MAX_PARTS": "6"}, "policy", "--json")
    assert shown.returncode == 0, shown.stderr
    rules = json.loads(shown.stdout)["rules"]
    assert rules["confirm_above_eur"] == {"value": 0.2, "source": f"{path} line 2"}
    assert rules["max_parts"] == {"value": 6, "source": "VERTEXSMS_MAX_PARTS"}
    assert rules["max_per_recipient_per_hour"] == {"value": 3, "source": "default"}
    text = vertex(env, "policy").stdout
    assert f"{path} line 3" in text
    assert "max_per_recipient_per_day" in text


async def test_the_opt_out_list_is_shared_by_every_process(emulator: Emulator, env: dict[str, str]) -> None:
    """A number opted out (typed with spaces and 00) while a server runs is refused at its next
    send; `call` in another process is refused too; removed, it goes again."""
    async with served(env) as client:
        ok(await client.call_tool("send_sms", send(LT, "first")))
        added = vertex(env, "optout", "add", "00370 600 00001")
        assert added.returncode == 0, added.stderr
        error = refused(await client.call_tool("send_sms", send(LT, "second")), "optout")
        assert error["change"] == command(f"optout remove {LT}")  # as printed, runs here
        ok(await client.call_tool("send_sms", send(LT2, "second")))
        other = vertex(env, "call", "send_sms", "--json", json.dumps(send(LT, "third")))
        assert json.loads(other.stdout)["error"]["rule"] == "optout"
        assert vertex(env, "optout", "list").stdout.split()[0] == LT
        assert vertex(env, "optout", "remove", LT).returncode == 0
        ok(await client.call_tool("send_sms", send(LT, "fourth")))
    assert sent_to(emulator) == [LT, LT2, LT]


async def test_processes_share_the_caps(emulator: Emulator, env: dict[str, str]) -> None:
    """A server and two `call` processes against one journal: the per-recipient cap of 2 holds across them."""
    write_policy(env, "max_per_recipient_per_hour = 2\n")
    for text in ("one", "two"):
        done = vertex(env, "call", "send_sms", "--json", json.dumps(send(LT, text)))
        assert done.returncode == 0, done.stdout + done.stderr
    async with served(env) as client:
        refused(await client.call_tool("send_sms", send(LT, "three")), "max_per_recipient_per_hour")
    assert sent_to(emulator) == [LT, LT]


async def test_the_sandbox_enforces_the_same_policy_and_says_so(tmp_path: Path) -> None:
    """VERTEXSMS_SANDBOX=1 with allowed_countries = ["LV"]: a Lithuanian send is refused, saying the sandbox enforces it."""
    env = process_env(tmp_path, VERTEXSMS_SANDBOX="1", VERTEXSMS_POLICY=str(tmp_path / "p.toml"))
    (tmp_path / "p.toml").write_text('allowed_countries = ["LV"]\n', encoding="utf-8")
    async with served(env) as client:
        error = refused(await client.call_tool("send_sms", send(LT)), "allowed_countries")
        assert "sandbox enforces the same policy" in error["message"]
        ok(await client.call_tool("send_sms", send(LV)))
