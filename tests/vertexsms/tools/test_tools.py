"""Every tool's success path, through the MCP server, against the emulator over real HTTP."""

from __future__ import annotations

import json

import pytest
from mcp.types import TextContent

from bridge import connected, envelope, ok
from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.vertexsms.links import not_signed_in
from vertex_stdio.vertexsms.sandbox import Emulator
from vertex_stdio.vertexsms.sandbox.rest import mccmnc_rows
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

pytestmark = pytest.mark.anyio


async def test_lists_the_ten_tools_with_schemas_and_annotations(emulator: Emulator) -> None:
    """tools/list has the contract's ten tools and our two, each with title, schemas and truthful hints."""
    async with connected(emulator) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tuple(tools) == TOOL_NAMES
    for tool in tools.values():
        assert tool.title
        assert tool.description
        assert len(tool.description) > 80
        assert tool.output_schema is not None
        assert tool.output_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is True
    assert emulator.journal == []  # listing touched nothing upstream
    send = tools["send_sms"]
    assert send.annotations is not None
    assert (send.annotations.read_only_hint, send.annotations.idempotent_hint) == (False, False)
    assert "BILLABLE" in (send.description or "")
    assert set(send.input_schema["required"]) == {"to", "from", "message"}
    props = send.input_schema["properties"]
    assert props["expireIn"]["anyOf"][0] == {"maximum": 432000, "minimum": 360, "type": "integer"}
    assert props["coding"]["anyOf"][0]["enum"] == [0, 1, 2]
    assert props["priority"]["anyOf"][0]["enum"] == ["high", "normal", "low"]
    assert set(send.output_schema["properties"]) == {
        "message_id",
        "status",
        "parts",
        "destination",
        "price_eur",
        "price_source",
        "note",
    }
    assert send.input_schema["properties"]["allow_duplicate"]["type"] == "boolean"
    assert "DUPLICATE_SEND" in (send.description or "")
    for free in ("quote_sms", "get_sms_status"):
        assert tools[free].annotations is not None
        assert tools[free].annotations.read_only_hint is True
    rates = tools["get_sms_rates"]
    assert rates.annotations is not None
    assert rates.annotations.read_only_hint is True
    assert rates.input_schema["properties"]["country"]["pattern"] == "^[A-Z]{2}$"
    correct = tools["correct_phone_number"].input_schema["properties"]["numbers"]
    assert correct["maxItems"] == 100
    assert tools["confirm_msisdn_sender"].input_schema["properties"]["code"]["pattern"] == "^[0-9]{5}$"
    name = tools["register_sender_id"].input_schema["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (3, 11)
    assert "BILLABLE" in (tools["lookup_hlr"].description or "")


async def test_send_sms(emulator: Emulator) -> None:
    """A send strips '+', reports parts from the header and the destination in E.164."""
    async with connected(emulator) as client:
        out = ok(
            await client.call_tool(
                "send_sms", {"to": "+37069912345", "from": "VERTEXSMS", "message": "a" * 200}
            )
        )
    assert out["status"] == "sent"
    assert out["destination"] == "+37069912345"
    assert out["parts"] == 2
    assert out["message_id"]
    [seen] = emulator.journal_for("POST", "/sms")
    body = json.loads(seen.body)
    assert body == {"to": "37069912345", "from": "VERTEXSMS", "message": "a" * 200}
    assert seen.headers["x-vertexsms-token"]


async def test_send_sms_test_mode_and_options(emulator: Emulator) -> None:
    """VERTEXSMS_TEST_MODE adds testMode to every send; options pass through; the result says so."""
    async with connected(emulator, test_mode="2") as client:
        result = await client.call_tool(
            "send_sms",
            {
                "to": "37069912345",
                "from": "ACME",
                "message": "Ačiū",
                "priority": "high",
                "expireIn": 3600,
                "coding": 2,
            },
        )
    ok(result)
    body = json.loads(emulator.journal_for("POST", "/sms")[0].body)
    assert body["testMode"] == "2"
    assert (body["priority"], body["expireIn"], body["coding"]) == ("high", 3600, 2)
    notes = [c.text for c in result.content if isinstance(c, TextContent)]
    assert any("TEST MODE" in n for n in notes)


async def test_get_sms_rates_and_cache(emulator: Emulator) -> None:
    """Rates come back per operator in the hosted shape; a second call within the hour is cached."""
    async with connected(emulator) as client:
        first = ok(await client.call_tool("get_sms_rates", {"country": "LT"}))
        second = ok(await client.call_tool("get_sms_rates", {"country": "DE"}))
    assert first["country"] == "LT"
    assert first["country_name"] == "Lithuania"
    assert first["rates"]
    assert set(first["rates"][0]) == {"operator", "network", "rate_eur", "mcc", "mnc"}
    assert isinstance(first["rates"][0]["rate_eur"], str)
    assert first["cache_age_seconds"] == 0
    assert second["country"] == "DE"
    assert second["rates"]
    assert len(emulator.journal_for("GET", "/rates/")) == 1


async def test_sender_registration_flow(emulator: Emulator) -> None:
    """Alphanumeric and phone-number senders register; the PIN confirms the number."""
    async with connected(emulator) as client:
        alpha = ok(
            await client.call_tool(
                "register_sender_id",
                {
                    "name": "ACMEBANK",
                    "category": "Company",
                    "categoryDescription": "Our registered company name",
                },
            )
        )
        msisdn = ok(await client.call_tool("register_msisdn_sender", {"msisdn": "+37069555555"}))
        confirmed = ok(
            await client.call_tool(
                "confirm_msisdn_sender", {"sender_id": msisdn["sender_id"], "code": "12345"}
            )
        )
    assert alpha["type"] == "AlphaNumeric"
    assert alpha["sender_id"] > 0
    assert msisdn["type"] == "MSISDN"
    assert msisdn["msisdn"] == "+37069555555"
    assert confirmed == {"sender_id": msisdn["sender_id"], "confirmed": True}
    posted = [json.loads(s.body) for s in emulator.journal_for("POST", "/senderId")]
    assert posted[1] == {"name": "37069555555", "type": "MSISDN"}


async def test_lookup_hlr(emulator: Emulator) -> None:
    """An HLR lookup is submitted with its callback and returns the lookup id."""
    async with connected(emulator) as client:
        out = ok(
            await client.call_tool(
                "lookup_hlr", {"msisdn": "+37069912345", "callBackUrl": "https://example.com/hlr"}
            )
        )
    assert out["status"] == "submitted"
    assert out["lookup_id"] > 0
    body = json.loads(emulator.journal_for("POST", "/hlr")[0].body)
    assert body == {"msisdn": "37069912345", "callBackUrl": "https://example.com/hlr"}


async def test_operator_and_mcc_mnc_pages(emulator: Emulator) -> None:
    """MCC/MNC pages link to operators; paging ends with an empty page."""
    async with connected(emulator) as client:
        pages = []
        page: int | None = 1
        while page is not None and len(pages) < 20:
            data = ok(await client.call_tool("get_mcc_mnc_list", {"country": "DE", "page": page}))
            pages.append(data)
            page = data["next_page"]
        operator_id = pages[0]["items"][0]["operator_id"]
        operator = ok(await client.call_tool("get_operator", {"operatorId": operator_id}))
    assert len(pages) == 3
    assert pages[-1]["items"] == []
    assert sum(len(p["items"]) for p in pages) == len(mccmnc_rows("DE"))
    assert operator["operator_id"] == operator_id
    assert operator["country"] == "DE"
    assert operator["mnc"]
    assert emulator.journal_for("GET", "/mccmnc/DE")[1].query == {"Page": "2"}


async def test_hosted_tools_are_forwarded_over_one_connection(emulator: Emulator) -> None:
    """correct_phone_number and get_mobile_prefixes go to the hosted MCP server, reusing the session."""
    numbers = [{"number": n, "country": "LT"} for n in ("861860698", "(370)-618-60698", "6186 0698")]
    async with connected(emulator) as client:
        corrected = ok(await client.call_tool("correct_phone_number", {"numbers": numbers}))
        prefixes = ok(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
        again = ok(await client.call_tool("get_mobile_prefixes", {"country": "GB"}))
    assert corrected["count"] == 3
    assert [r["number_e164"] for r in corrected["results"]] == ["+37061860698"] * 3
    assert all(r["mobile"] and r["number_type"] == "mobile" for r in corrected["results"])
    assert prefixes["country"] == "LT"
    assert any(p["prefix"].startswith("3706") for p in prefixes["prefixes"])
    assert again["country"] == "GB"
    mcp_posts = [json.loads(s.body) for s in emulator.journal_for("POST", "/mcp")]
    methods = [m.get("method") for m in mcp_posts if isinstance(m, dict)]
    assert methods.count("tools/call") == 3
    assert methods.count("initialize") <= 1
    assert all(s.headers["authorization"].startswith("Bearer ") for s in emulator.journal_for("POST", "/mcp"))


async def test_no_credentials_answers_auth_required(emulator: Emulator) -> None:
    """Without a token every call answers AUTH_REQUIRED with the links, and nothing is sent."""
    async with connected(emulator, tokens=NoTokenProvider(not_signed_in())) as client:
        for name, args in (
            ("send_sms", {"to": "37069912345", "from": "ACME", "message": "hi"}),
            ("correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}),
        ):
            error = envelope(await client.call_tool(name, args))
            assert error["code"] == "AUTH_REQUIRED"
            assert error["retryable"] is False
            assert error["token_url"] == "https://tool.vertexsms.com/settings/api"
            assert "vertex-stdio login" in error["message"]
    assert emulator.journal == []
