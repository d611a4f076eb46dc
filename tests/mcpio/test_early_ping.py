"""The early loop answers a client's plain ``ping`` itself, at any time (``mcpio/early.py``, ``_pong``).

``run_early`` over real pipes (``test_early_asks.Rig``): a ping while an ask waits for the local
client, while a call runs, and after the loop has stopped while an ask waits, is answered at once
-- before the ask's answer is given -- with the bytes the SDK's own server writes for it over
stdio (``stdio.serve_stdio``, in process, over real pipes), and never handed to the SDK too.  A
ping of any other shape (params, a float id, ...) is left to the SDK, whole and in order.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import anyio
import pytest
from test_early_asks import BOUND, INIT, ROOTS, Rig, Tools, _answer, _call, _sdk_server, _wire

from vertex_stdio.mcpio import stdio
from vertex_stdio.mcpio.early import _pong
from vertex_stdio.mcpio.lean import Handover
from vertex_stdio.mcpio.leancalls import Prepared, Result

LISTED = _wire({"jsonrpc": "2.0", "id": "r", "method": "resources/list"})  # the SDK's: the loop stops there
INITIALIZED = _wire({"jsonrpc": "2.0", "method": "notifications/initialized"})
# The plain pings real clients send: the early loop answers each itself.
PLAIN = [
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":-7,"method":"ping","params":{}}',
    b'{"method": "ping", "id": "p \xc3\xbc \\u2028 / \\" \\\\", "jsonrpc": "2.0"}',
    b'{"jsonrpc":"2.0","id":"","method":"ping"}',
    b'{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}',
]
# Typed every other way: left to the SDK (which answers some with an empty result, some with an error).
OTHER = [
    b'{"jsonrpc":"2.0","id":20,"method":"ping","params":null}',
    b'{"jsonrpc":"2.0","id":21,"method":"ping","params":[]}',
    b'{"jsonrpc":"2.0","id":22,"method":"ping","params":{"_meta":{"progressToken":1}}}',
    b'{"jsonrpc":"2.0","id":23,"method":"ping","params":{"_meta":"x"}}',
    b'{"jsonrpc":"2.0","id":24,"method":"ping","params":{"x":1}}',
    b'{"jsonrpc":"2.0","id":25,"method":"ping","extra":1}',
    b'{"jsonrpc":"1.0","id":26,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":27.0,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":true,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":28,"method":"ping","id":29}',
    b'{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":30,"method":"Ping"}',
    b'{"jsonrpc":"2.0","method":"ping"}',
    b'{"jsonrpc":"2.0","id":31,"method":"ping"',
]
# Left to the SDK too, but not fed to it here: its writer fails on the lone surrogate it echoes.
SURROGATE = b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}'


class Holding(Tools):
    """``Tools``, and ``hold``: a call that runs until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        return self._hold if name == "hold" else super().prepare(name, arguments)

    async def _hold(self) -> Result:
        with anyio.fail_after(BOUND):
            while not self.release.is_set():
                await anyio.sleep(0.005)
        return {"content": [{"type": "text", "text": "held"}], "isError": False}


@pytest.fixture
def tools() -> Holding:
    return Holding()


@pytest.fixture
def rig(tools: Holding) -> Iterator[Rig]:
    made = Rig(tools)
    yield made
    made.close()


def _sdk_writes(lines: list[bytes]) -> list[bytes]:
    """What the SDK's own server (``stdio.serve_stdio``, over real pipes) writes for ``lines``,
    after an opening the lean front answered (replayed, its answer swallowed)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        os.write(in_w, b"".join(line + b"\n" for line in lines))
        os.close(in_w)
        in_w = -1
        handover = Handover(replay=[_wire(INIT), INITIALIZED], swallow={INIT["id"]}, fds=(in_r, out_w))
        anyio.run(partial(_serve, handover))
        os.close(out_w)
        out_w = -1
        with os.fdopen(out_r, "rb") as out:
            out_r = -1
            return out.read().splitlines(keepends=True)
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            if fd >= 0:
                os.close(fd)


async def _serve(handover: Handover) -> None:
    with anyio.fail_after(BOUND):
        await stdio.serve_stdio(_sdk_server(), handover=handover, eof_drain=BOUND)


def _by_id(written: list[bytes]) -> dict[str, bytes]:
    return {json.dumps(json.loads(line)["id"]): line for line in written}


def test_a_plain_ping_gets_the_sdk_servers_bytes_and_any_other_shape_is_the_sdks() -> None:
    sdk = _by_id(_sdk_writes(PLAIN))
    assert len(sdk) == len(PLAIN)
    for line in PLAIN:
        answer = _pong(line)
        assert answer is not None, line
        assert answer == sdk[json.dumps(json.loads(line)["id"])], line
    # the SDK answers many of these too, some with an empty result: none is the early loop's
    assert len(_sdk_writes(OTHER)) >= 10
    assert [line for line in [*OTHER, SURROGATE] if _pong(line) is not None] == []


def test_a_ping_while_an_ask_waits_is_answered_before_the_ask_is(rig: Rig, tools: Holding) -> None:
    written: list[bytes] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1  # the ask waits: a person is answering
        for line in PLAIN:
            rig.send(line + b"\n")
            written.append(rig.line())  # answered before the ask is
        rig.send(_answer(1, {"roots": []}))
        assert rig.message()["id"] == "c1"
        rig.close_stdin()

    assert rig.run(script) == 1
    assert written == [_pong(line) for line in PLAIN]
    assert [json.loads(line)["id"] for line in written] == [json.loads(line)["id"] for line in PLAIN]
    assert tools.outcomes == [_answer(1, {"roots": []})]
    assert rig.handover.preface == b""  # not handed to the SDK too
    assert rig.handover.ended == "eof"


def test_a_ping_while_a_call_runs_is_answered_at_once(rig: Rig, tools: Holding) -> None:
    found: list[dict[str, Any]] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "hold"))
        time.sleep(0.05)
        rig.send(PLAIN[0] + b"\n")
        found.append(rig.message())
        assert not tools.release.is_set()
        tools.release.set()
        found.append(rig.message())
        rig.close_stdin()

    assert rig.run(script) == 1
    assert found == [{"jsonrpc": "2.0", "id": 1, "result": {}}, _answer("c1", found[1]["result"])]
    assert rig.handover.preface == b""


def test_a_ping_after_a_stop_while_an_ask_waits_is_answered_and_the_sdks_lines_keep_their_order(
    rig: Rig, tools: Holding
) -> None:
    other = OTHER[2] + b"\n"  # a ping with params: the SDK's, kept in its place
    changed = _wire({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
    found: list[bytes] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        rig.send(LISTED)  # the loop stops there, and reads on while the ask waits
        rig.send(PLAIN[1] + b"\n" + other)
        found.append(rig.line())  # the plain ping, answered while the ask waits
        rig.send(PLAIN[2] + b"\n" + changed + _wire(_answer(1, {"roots": []})))
        found.append(rig.line())
        found.append(rig.line())

    assert rig.run(script) == 1
    assert found[:2] == [_pong(PLAIN[1]), _pong(PLAIN[2])]
    assert json.loads(found[2])["id"] == "c1"
    assert tools.outcomes == [_answer(1, {"roots": []})]
    assert rig.handover.preface == LISTED + other + changed
    assert rig.handover.ended is None


def test_a_ping_of_another_shape_is_left_to_the_sdk_whole(rig: Rig, tools: Holding) -> None:
    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        rig.send(b"".join(line + b"\n" for line in OTHER))
        time.sleep(0.1)
        rig.send(_answer(1, {"roots": []}))
        assert rig.message()["id"] == "c1"  # nothing was written before the call's answer

    assert rig.run(script) == 1
    assert rig.handover.preface == b"".join(line + b"\n" for line in OTHER)
