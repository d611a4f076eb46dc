"""The lean front answers exactly as the SDK would, or leaves the message to the SDK.

Every opening is fed to both: the front (``mcpio.lean.front`` over real descriptors, with the
checked-in manifest) and the SDK (``mcpio.answers.sdk_answers`` over the real VertexSMS server).
Whenever the front answers, its answer must be the SDK's; the plain shapes real clients send
must be answered by the front (else it would be a no-op); anything else must be left whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import pytest

from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.mcpio.answers import sdk_answers
from vertex_stdio.mcpio.lean import Handover, Manifest, front
from vertex_stdio.vertexsms.manifest import load
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings

pytestmark = pytest.mark.anyio

INFO = {"name": "t", "version": "1"}
PLAIN = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": INFO}
# What real clients send at the start: the front must answer each of these itself.
ANSWERED = [
    PLAIN,
    {**PLAIN, "protocolVersion": "2024-11-05"},
    {**PLAIN, "protocolVersion": "2025-06-18"},
    {**PLAIN, "protocolVersion": "2099-01-01"},  # unknown: the latest is negotiated
    {**PLAIN, "protocolVersion": "2026-07-28"},
    {**PLAIN, "capabilities": {"roots": {"listChanged": True}, "sampling": {}}},
    {**PLAIN, "capabilities": {"elicitation": {"form": {}, "url": {}}, "roots": {}}},
    {**PLAIN, "clientInfo": {**INFO, "title": "Claude"}},
]
# Typed every other way: the front either gives the SDK's answer or leaves it to the SDK.
OTHER: list[Any] = [
    {},
    {**PLAIN, "protocolVersion": 20251125},
    {**PLAIN, "protocolVersion": None},
    {k: v for k, v in PLAIN.items() if k != "clientInfo"},
    {k: v for k, v in PLAIN.items() if k != "capabilities"},
    {k: v for k, v in PLAIN.items() if k != "protocolVersion"},
    {**PLAIN, "clientInfo": {"name": "t"}},
    {**PLAIN, "clientInfo": {"name": 1, "version": "1"}},
    {**PLAIN, "clientInfo": "t"},
    {**PLAIN, "clientInfo": {**INFO, "icons": [{"src": "x"}]}},
    {**PLAIN, "capabilities": []},
    {**PLAIN, "capabilities": {"roots": {"listChanged": "yes"}}},
    {**PLAIN, "capabilities": {"roots": True}},
    {**PLAIN, "capabilities": {"sampling": {"tools": {}}}},
    {**PLAIN, "capabilities": {"experimental": {"x": {}}}},
    {**PLAIN, "capabilities": {"tasks": {}}},
    {**PLAIN, "_meta": {"progressToken": 1}},
    {**PLAIN, "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    {**PLAIN, "extra": 1},
    [PLAIN],
    "initialize",
]


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _initialize(params: Any, id_: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": "initialize", "params": params}


def run_front(manifest: Manifest, data: bytes) -> tuple[list[dict[str, Any]], Handover]:
    """``front`` over real descriptors: ``data`` then end of input; its answers and where it stopped."""
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out:
        inp.write(data)
        inp.seek(0)
        wake_r, wake_w = os.pipe()
        try:
            handover = front(inp.fileno(), out.fileno(), manifest, wake_r)
        finally:
            os.close(wake_r)
            os.close(wake_w)
        out.seek(0)
        return [json.loads(line) for line in out.read().splitlines()], handover


@pytest.fixture(scope="module", params=[False, True], ids=["vertexsms", "sandbox"])
def pair(request: pytest.FixtureRequest) -> tuple[Manifest, Any]:
    manifest = load(sandbox=request.param)
    assert manifest is not None
    return manifest, build_server(Settings(sandbox=request.param), NoTokenProvider())


async def agrees(pair: tuple[Manifest, Any], lines: list[bytes]) -> int:
    """Feed ``lines`` to both; assert every front answer is the SDK's; return how many it gave."""
    manifest, server = pair
    given, handover = run_front(manifest, b"".join(lines))
    expected = await sdk_answers(server, [line.rstrip(b"\n") for line in lines])
    assert given == expected[: len(given)]
    taken = b"".join(lines)[: len(b"".join(lines)) - len(handover.preface)]
    assert handover.answered == len(given)
    assert taken.count(b"\n") >= len(given)
    return len(given)


@pytest.mark.parametrize("params", ANSWERED, ids=range(len(ANSWERED)))
async def test_the_plain_opening_is_answered_by_the_front_as_the_sdk_does(
    pair: tuple[Manifest, Any], params: dict[str, Any]
) -> None:
    lines = [
        _line(_initialize(params)),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
        _line({"jsonrpc": "2.0", "id": "list", "method": "tools/list"}),
        _line({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}),
    ]
    assert await agrees(pair, lines) == 3


@pytest.mark.parametrize("params", OTHER, ids=range(len(OTHER)))
async def test_an_initialize_typed_any_other_way_gets_the_sdks_answer(
    pair: tuple[Manifest, Any], params: Any
) -> None:
    given = await agrees(pair, [_line(_initialize(params))])
    assert given == 0 or params == {**PLAIN}


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"cursor": "x"}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": {"progressToken": 1}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": None},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": []},
        {"jsonrpc": "2.0", "id": True, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2.5, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": None, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2**60, "method": "tools/list"},
        {"jsonrpc": "1.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": PLAIN},
    ],
)
async def test_a_later_request_the_front_does_not_know_is_left_to_the_sdk(
    pair: tuple[Manifest, Any], message: dict[str, Any]
) -> None:
    assert await agrees(pair, [_line(_initialize(PLAIN)), _line(message)]) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json\n",
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}, "id": 2}\n',
        b'{"jsonrpc":"2.0","id":"\\ud800","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n',
        b"\xff\xfe\n",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n',
    ],
)
async def test_a_malformed_or_early_line_is_left_whole_to_the_wire(
    pair: tuple[Manifest, Any], raw: bytes
) -> None:
    given, handover = run_front(pair[0], raw)
    assert given == []
    assert handover.preface == raw
    assert handover.replay == []


def test_what_the_front_answered_is_replayed_under_private_ids(pair: tuple[Manifest, Any]) -> None:
    data = (
        _line(_initialize(PLAIN))
        + b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
        + _line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        + b'{"jsonrpc":"2.0","id":3,"method":"ping"}\n{"rest'
    )
    given, handover = run_front(pair[0], data)
    assert [m["id"] for m in given] == [1, 2]
    replayed = [json.loads(line) for line in handover.replay]
    assert [m.get("method") for m in replayed] == ["initialize", "notifications/initialized", "tools/list"]
    assert {m["id"] for m in replayed if "id" in m} == handover.swallow
    assert not {1, 2} & handover.swallow
    assert replayed[0]["params"] == PLAIN
    assert handover.preface == b'{"jsonrpc":"2.0","id":3,"method":"ping"}\n{"rest'
    assert handover.ended is None


def test_end_of_input_after_the_opening_ends_the_session_in_the_front(pair: tuple[Manifest, Any]) -> None:
    given, handover = run_front(pair[0], _line(_initialize(PLAIN)) + b"\n  \n")
    assert len(given) == 1
    assert handover.ended == "eof"


def test_the_front_stops_once_the_sdk_is_ready(pair: tuple[Manifest, Any]) -> None:
    inp_r, inp_w = os.pipe()
    wake_r, wake_w = os.pipe()
    with tempfile.TemporaryFile() as out:
        os.write(inp_w, _line(_initialize(PLAIN)))
        os.write(wake_w, b"!")
        handover = front(inp_r, out.fileno(), pair[0], wake_r)
        for fd in (inp_r, inp_w, wake_r, wake_w):
            os.close(fd)
    assert handover.ended is None
    assert handover.answered == 0
    assert handover.preface == b""  # not read: the wire reads it
