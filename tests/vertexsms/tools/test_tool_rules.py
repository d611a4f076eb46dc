"""One rule for sender names in both tools, and unknown arguments refused by schema, not by list."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import connected, envelope, ok
from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.vertexsms.sandbox import Emulator
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.models import SENDER_FROM_PATTERN

pytestmark = pytest.mark.anyio
ALPHA = {"category": "Company", "categoryDescription": "Our company name"}


async def test_a_registered_name_can_be_sent_from(emulator: Emulator) -> None:
    """A registered name is accepted as send_sms ``from``."""
    async with connected(emulator) as client:
        registered = ok(await client.call_tool("register_sender_id", {**ALPHA, "name": "Acme2026"}))
        sent = ok(
            await client.call_tool(
                "send_sms", {"to": "+37069912345", "from": registered["name"], "message": "hi"}
            )
        )
    assert sent["status"] == "sent"


async def test_spaces_and_dots_are_for_from_only(emulator: Emulator) -> None:
    """``from`` may hold spaces and dots (VertexSMS's send rule); registration, which does not take
    them, refuses such a name before filing it."""
    async with connected(emulator) as client:
        sent = ok(
            await client.call_tool("send_sms", {"to": "+37069912345", "from": "Acme Co.", "message": "hi"})
        )
        registered = envelope(await client.call_tool("register_sender_id", {**ALPHA, "name": "Acme Co."}))
    assert sent["status"] == "sent"
    assert (registered["code"], registered["fields"]) == ("INVALID_INPUT", ["name"])
    assert emulator.journal_for("POST", "/senderId") == []


@pytest.mark.parametrize("name", ["ACME-SMS", "ACME_SMS", "A&B", "Ačme", "TWELVECHARSX"])
async def test_names_send_would_refuse_cannot_be_registered(emulator: Emulator, name: str) -> None:
    """What send_sms refuses as ``from``, register_sender_id refuses too, before anything is filed."""
    async with connected(emulator) as client:
        registered = envelope(await client.call_tool("register_sender_id", {**ALPHA, "name": name}))
        sent = envelope(
            await client.call_tool("send_sms", {"to": "+37069912345", "from": name, "message": "hi"})
        )
    assert (registered["code"], registered["fields"]) == ("INVALID_INPUT", ["name"])
    assert (sent["code"], sent["fields"]) == ("INVALID_INPUT", ["from"])
    assert emulator.journal_for("POST", "/senderId") == []


async def _schemas() -> dict[str, dict[str, object]]:
    server = build_server(Settings(), NoTokenProvider())
    return {tool.name: tool.input_schema for tool in await server.list_tools()}


def test_every_registrable_name_is_a_valid_sender() -> None:
    """Property: any name register_sender_id's schema accepts, send_sms's ``from`` accepts."""
    import anyio

    schemas = anyio.run(_schemas)
    name_rule = schemas["register_sender_id"]["properties"]["name"]["pattern"]  # type: ignore[index]
    from_rule = schemas["send_sms"]["properties"]["from"]["pattern"]  # type: ignore[index]
    assert from_rule == SENDER_FROM_PATTERN
    assert schemas["quote_sms"]["properties"]["from"]["pattern"] == from_rule  # type: ignore[index]

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.from_regex(name_rule, fullmatch=True))
    def check(name: str) -> None:
        assert re.fullmatch(from_rule, name), name

    check()


async def test_every_declared_argument_is_allowed(emulator: Emulator) -> None:
    """The unknown-argument check reads each tool's schema: no declared argument is called unknown."""
    schemas = await _schemas()
    async with connected(emulator) as client:
        for name, schema in schemas.items():
            arguments = {key: None for key in schema["properties"]}  # type: ignore[union-attr]
            error = envelope(await client.call_tool(name, {**arguments, "surplus": 1}))
            assert error["fields"] == ["surplus"], (name, error)
            assert "has no argument `surplus`" in error["message"], (name, error)
