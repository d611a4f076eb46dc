"""The checked-in tools manifest is what the SDK answers today, and a stale one is never used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from vertex_stdio import __version__
from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.mcpio.answers import opening, sdk_answers
from vertex_stdio.vertexsms import server as server_module
from vertex_stdio.vertexsms.manifest import MANIFEST, generate, load
from vertex_stdio.vertexsms.server import VertexServer, build_server
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES


def test_the_checked_in_manifest_is_the_one_the_sdk_generates() -> None:
    """Regenerated from the real server and the SDK: a tool whose words change needs a new manifest
    (``uv run python -m vertex_stdio.vertexsms.manifest``)."""
    written = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert written == generate()
    for name in ("vertexsms", "sandbox"):
        assert written["variants"][name]["versions"] == list(HANDSHAKE_PROTOCOL_VERSIONS)
    sandbox = load(sandbox=True)
    real = load(sandbox=False)
    assert sandbox is not None
    assert real is not None
    latest = HANDSHAKE_PROTOCOL_VERSIONS[-1]
    assert len(real.tools[latest]["tools"]) == 12
    assert all(t["description"].startswith("[SANDBOX") for t in sandbox.tools[latest]["tools"])
    assert real.initialize[latest]["serverInfo"]["version"] == __version__


def test_a_manifest_for_another_version_or_unreadable_is_not_used(tmp_path: Path) -> None:
    stale = json.loads(MANIFEST.read_text(encoding="utf-8")) | {"version": "0.0.0-old"}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    assert load(sandbox=False, path=path) is None
    path.write_text("{", encoding="utf-8")
    assert load(sandbox=False, path=path) is None
    assert load(sandbox=False, path=tmp_path / "missing.json") is None


async def _tools_lists(server: VertexServer) -> list[dict[str, Any]]:
    lists = []
    for version in HANDSHAKE_PROTOCOL_VERSIONS:
        _init, tools = await sdk_answers(server, opening(version))
        lists.append(tools["result"])
    return lists


@pytest.mark.anyio
@pytest.mark.parametrize("sandbox", [False, True])
async def test_tools_list_from_the_manifest_is_the_sdks_own_answer_with_every_tool_registered(
    sandbox: bool,
) -> None:
    """Issue 22: tools are registered with the SDK at their first call (~1.5 MB of a serve
    process); until all are, tools/list answers the manifest's tools, byte for byte what the SDK
    answers with all of them registered, for every protocol version."""
    eager = build_server(Settings(sandbox=sandbox), NoTokenProvider())
    eager.offer_all()
    expected = await _tools_lists(eager)
    lazy = build_server(Settings(sandbox=sandbox), NoTokenProvider())
    assert lazy._tool_manager.list_tools() == []  # nothing built at start-up
    assert await _tools_lists(lazy) == expected
    assert lazy._tool_manager.list_tools() == []  # listing built nothing either
    lazy.offer("get_operator")  # what a first call does
    assert [t.name for t in lazy._tool_manager.list_tools()] == ["get_operator"]
    assert await _tools_lists(lazy) == expected


@pytest.mark.anyio
async def test_without_a_manifest_every_tool_is_registered_and_listed_in_the_catalogs_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eager = build_server(Settings(), NoTokenProvider())
    eager.offer_all()
    expected = await _tools_lists(eager)
    monkeypatch.setattr(server_module, "_manifest_tools", lambda sandbox: [])  # stale or unreadable
    lazy = build_server(Settings(), NoTokenProvider())
    lazy.offer("get_operator")  # registered first, listed in its place
    assert await _tools_lists(lazy) == expected
    assert [t.name for t in lazy._tool_manager.list_tools()] == [
        *["get_operator"],
        *[n for n in TOOL_NAMES if n != "get_operator"],
    ]


@pytest.mark.anyio
async def test_a_call_registers_its_tool_alone_and_answers_as_before() -> None:
    server = build_server(Settings(), NoTokenProvider())
    answers = await sdk_answers(
        server,
        [
            *opening("2025-11-25", tools=False),
            b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
            b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "quote_sms", '
            b'"arguments": {"to": "+37060000000", "text": "hi", "unknown": 1}}}',
            b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "no_such_tool", '
            b'"arguments": {}}}',
        ],
    )
    unknown_argument, unknown_tool = (a["result"] for a in answers[1:])
    assert unknown_argument["isError"]
    assert "`unknown`" in unknown_argument["content"][0]["text"]
    assert unknown_tool["isError"]
    assert "no tool named 'no_such_tool'" in unknown_tool["content"][0]["text"]
    assert [t.name for t in server._tool_manager.list_tools()] == ["quote_sms"]
