"""The early loop's requests to the local client (``mcpio/asks.py``, ``Early.asks``), in process.

``run_early`` over real pipes, with lean tools whose calls ask the local client (as ``connect``'s
early session relays a remote's ``roots/list``, sampling or elicitation) and a client thread that
answers.  The requests are the bytes the SDK's own ``JSONRPCDispatcher`` writes, and so is the
courtesy cancel of an abandoned one; an answer reaches its ask and never the SDK; the ids go on
after the hand-over to the SDK's own server, in the same process; after a stop the loop reads on
for the answers and keeps every other line, in order, for the SDK; end of input, SIGTERM and a
broken stdout end the asks waiting with ``LocalGone``.  Every wait is bounded (``BOUND``).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from functools import partial
from typing import Any

import anyio
import pytest
from mcp import MCPError, types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import SessionMessage

from vertex_stdio.mcpio import stdio
from vertex_stdio.mcpio.asks import Ask, LocalGone
from vertex_stdio.mcpio.early import Early, run_early
from vertex_stdio.mcpio.lean import Handover
from vertex_stdio.mcpio.leancalls import Prepared, Result

BOUND = 5.0  # seconds: the longest any wait here may take, so a failing test ends
INIT = {
    "jsonrpc": "2.0",
    "id": "vertex-stdio/lean/1",  # as the lean front replays the initialize it answered
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}},
        "clientInfo": {"name": "asks-test", "version": "1"},
    },
}
ROOTS = {"method": "roots/list"}
SAMPLE = {
    "method": "sampling/createMessage",
    "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi ü \u2028"}}],
        "maxTokens": 5,
        "temperature": 0.5,
    },
}
ELICIT_EMPTY = {"method": "elicitation/create", "params": {}}  # empty params: left out, as the SDK does


def _wire(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _call(id_: str, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments or {}}
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


def _answer(id_: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _text(value: Any) -> Result:
    return {"content": [{"type": "text", "text": json.dumps(value, sort_keys=True)}], "isError": False}


class Tools:
    """Lean tools: ``ask`` puts its ``requests`` to the local client in turn and answers what came
    back; ``plain`` answers at once; ``later`` asks ``roots/list`` in a task of its own (as a
    remote's event stream asks, apart from any call) and answers at once.  Others go to the SDK."""

    def __init__(self) -> None:
        self.ask: Ask | None = None
        self.outcomes: list[dict[str, Any]] = []  # what each finished ask gave (LocalGone: "gone")
        self._tasks: list[asyncio.Task[Any]] = []

    def given(self, ask: Ask) -> None:
        assert self.ask is None, "the loop gives its ask once"
        self.ask = ask

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        if name == "ask":
            return partial(self._asking, arguments["requests"])
        if name == "plain":
            return partial(self._done, "plain")
        if name == "later":
            return self._later
        return None

    async def _asking(self, requests: list[dict[str, Any]]) -> Result:
        return _text([await self._one(request) for request in requests])

    async def _done(self, value: Any) -> Result:
        return _text(value)

    async def _later(self) -> Result:
        self._tasks.append(asyncio.get_running_loop().create_task(self._one(ROOTS)))
        return _text("later")

    async def _one(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.ask is not None
        try:
            with anyio.fail_after(BOUND):
                answer = await self.ask(request)
        except LocalGone as gone:
            answer = {"gone": str(gone)}
        self.outcomes.append(answer)
        return answer


class Rig:
    """The early loop's pipes and the client's end of them; ``run`` runs the loop (on this, the
    main thread: its signal handlers) while ``script`` plays the client on a thread."""

    def __init__(self, tools: Tools, **limits: float) -> None:
        self.in_r, self.in_w = os.pipe()
        self.out_r, self.out_w = os.pipe()
        self.wake_r, self.wake_w = os.pipe()
        self.loads: list[float] = []  # when the SDK's loader was started
        self.handover = Handover(
            replay=[_wire(INIT), _wire({"jsonrpc": "2.0", "method": "notifications/initialized"})],
            swallow={INIT["id"]},
            fds=(self.in_r, self.out_w),
        )
        self.early = Early(tools, self._load, self.wake_r, _nothing, asks=tools.given, **limits)
        self._read = b""
        self.error: BaseException | None = None

    def _load(self) -> None:
        self.loads.append(time.monotonic())

    def send(self, *messages: dict[str, Any] | bytes) -> None:
        os.write(self.in_w, b"".join(m if isinstance(m, bytes) else _wire(m) for m in messages))

    def line(self) -> bytes:
        deadline = time.monotonic() + BOUND
        while b"\n" not in self._read:
            left = deadline - time.monotonic()
            assert left > 0, "no line on stdout in time"
            assert select.select([self.out_r], [], [], left)[0], "no line on stdout in time"
            chunk = os.read(self.out_r, 65536)
            assert chunk, "stdout closed"
            self._read += chunk
        line, _, self._read = self._read.partition(b"\n")
        return line + b"\n"

    def message(self) -> dict[str, Any]:
        found = json.loads(self.line())
        assert isinstance(found, dict)
        return found

    def close_stdin(self) -> None:
        os.close(self.in_w)
        self.in_w = -1

    def wake(self) -> None:
        os.write(self.wake_w, b"x")

    def run(self, script: Callable[[Rig], None], then: Callable[[Rig], None] | None = None) -> int:
        """Run the early loop, then (``then``) what follows it, while ``script`` plays the client."""

        def play() -> None:
            try:
                script(self)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
                self.error = exc
                with suppress(OSError):
                    self.wake()
                    self.close_stdin()

        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        answered = run_early(self.handover, self.early, {})
        if then is not None:
            then(self)
        thread.join(BOUND)
        if self.error is not None:
            raise self.error
        assert not thread.is_alive(), "the client's script did not end"
        return answered

    def close(self) -> None:
        for fd in (self.in_r, self.in_w, self.out_r, self.out_w, self.wake_r, self.wake_w):
            with suppress(OSError):
                if fd >= 0:
                    os.close(fd)


async def _nothing() -> None:
    return None


@pytest.fixture
def tools() -> Tools:
    return Tools()


@pytest.fixture
def rig(tools: Tools) -> Iterator[Rig]:
    made = Rig(tools)
    yield made
    made.close()


def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.005)


async def _sdk_lines(method: str, params: dict[str, Any] | None, *, cancel: bool = False) -> list[bytes]:
    """What the SDK's own dispatcher writes for ``send_raw_request(method, params)`` (and, with
    ``cancel``, when its caller cancels it after the write), as ``stdio.Wire`` writes it."""
    out_send, out_receive = anyio.create_memory_object_stream[SessionMessage](10)
    in_send, in_receive = anyio.create_memory_object_stream[SessionMessage | Exception](10)
    dispatcher: JSONRPCDispatcher[Any] = JSONRPCDispatcher(in_receive, out_send)
    written: list[bytes] = []

    async def on_request(*_: Any) -> dict[str, Any]:
        return {}

    async def on_notify(*_: Any) -> None:
        return None

    scope = anyio.CancelScope()

    async def asking() -> None:
        with scope, suppress(MCPError):
            await dispatcher.send_raw_request(method, params)

    async with out_receive, anyio.create_task_group() as tasks:
        await tasks.start(dispatcher.run, on_request, on_notify)
        tasks.start_soon(asking)
        written.append(stdio._line((await out_receive.receive()).message))
        if cancel:
            scope.cancel()
            written.append(stdio._line((await out_receive.receive()).message))
        await in_send.aclose()
    return written


def _sdk(method: str, params: dict[str, Any] | None, *, cancel: bool = False) -> list[bytes]:
    return anyio.run(partial(_sdk_lines, method, params, cancel=cancel))


def _ids(lines: list[bytes], id_: int) -> list[bytes]:
    """The SDK dispatcher's first request is id 1: the same lines with ``id_`` instead."""
    return [line.replace(b'"id":1,', f'"id":{id_},'.encode(), 1) for line in lines]


def test_asks_are_written_as_the_sdk_writes_them_and_their_answers_come_back(rig: Rig, tools: Tools) -> None:
    written: list[bytes] = []
    sampled = {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}
    refused = {"code": -1, "message": "the person said no"}

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS, SAMPLE, ELICIT_EMPTY]}))
        written.append(rig.line())
        rig.send(_answer(1, {"roots": [{"uri": "file:///ü", "name": "one"}]}))
        written.append(rig.line())
        rig.send(_answer(2, sampled))
        written.append(rig.line())
        rig.send({"jsonrpc": "2.0", "id": 3, "error": refused})
        written.append(rig.line())
        rig.close_stdin()

    assert rig.run(script) == 1
    sdk = [
        _sdk("roots/list", None)[0],
        _ids(_sdk(SAMPLE["method"], SAMPLE["params"]), 2)[0],
        _ids(_sdk("elicitation/create", {}), 3)[0],
    ]
    assert written[:3] == sdk
    answered = json.loads(json.loads(written[3])["result"]["content"][0]["text"])
    assert answered == [
        _answer(1, {"roots": [{"uri": "file:///ü", "name": "one"}]}),
        _answer(2, sampled),
        {"jsonrpc": "2.0", "id": 3, "error": refused},
    ]
    assert rig.handover.preface == b""
    assert rig.handover.asked == 3
    assert rig.handover.ended == "eof"


def _sdk_server() -> MCPServer:
    server: MCPServer = MCPServer(name="after-the-early-loop", version="1")

    @server.tool()
    async def sdk_roots(ctx: Context) -> str:
        """Ask the client for its roots twice; what came back."""
        found = []
        for _ in range(2):
            roots = await ctx.session.send_request(types.ListRootsRequest(), types.ListRootsResult)
            found.append(roots.model_dump(mode="json", exclude_none=True))
        return json.dumps(found)

    return server


def test_the_sdks_requests_follow_the_early_ones_in_one_process(rig: Rig) -> None:
    """Ids 1 and 2 asked early; the SDK's server, after the hand-over, asks 3 and 4 (its own 1
    and 2), and a late second answer to the early id 1 never reaches it."""
    requests: list[dict[str, Any]] = []
    sdk_answer: list[dict[str, Any]] = []

    def roots(name: str) -> dict[str, Any]:
        return {"roots": [{"uri": f"file:///{name}", "name": name}]}

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS, ROOTS]}))
        for name in ("one", "two"):
            requests.append(rig.message())
            rig.send(_answer(requests[-1]["id"], roots(name)))
        assert rig.message()["id"] == "c1"
        rig.send(_call("s1", "sdk_roots"))  # not the early loop's: the SDK runs it
        requests.append(rig.message())
        rig.send(_answer(1, roots("late")), _answer(requests[-1]["id"], roots("three")))
        requests.append(rig.message())
        rig.send(_answer(requests[-1]["id"], roots("four")))
        sdk_answer.append(rig.message())
        rig.close_stdin()

    def sdk(rig: Rig) -> None:
        assert rig.handover.asked == 2
        anyio.run(partial(stdio.serve_stdio, _sdk_server(), handover=rig.handover, eof_drain=BOUND))

    rig.run(script, then=sdk)
    assert [r["id"] for r in requests] == [1, 2, 3, 4]
    assert all(r["method"] == "roots/list" for r in requests)
    assert sdk_answer[0]["id"] == "s1"
    text = sdk_answer[0]["result"]["content"][0]["text"]
    assert json.loads(text) == [roots("three"), roots("four")]


def test_after_a_stop_answers_are_delivered_and_every_other_line_kept_in_order(
    rig: Rig, tools: Tools
) -> None:
    listed = _wire({"jsonrpc": "2.0", "id": "r", "method": "resources/list"})
    plain = _wire(_call("c2", "plain"))  # the loop's kind of call, but after the stop: the SDK's
    changed = _wire({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
    found: list[dict[str, Any]] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        # the listing stops the loop; the answer to the ask comes after it, between the SDK's lines
        rig.send(listed + plain + _wire(_answer(1, {"roots": []})) + changed)
        found.append(rig.message())

    assert rig.run(script) == 1
    assert found[0]["id"] == "c1"
    assert json.loads(found[0]["result"]["content"][0]["text"]) == [_answer(1, {"roots": []})]
    assert rig.handover.preface == listed + plain + changed
    assert rig.handover.ended is None
    assert rig.handover.asked == 1


def test_an_answer_with_an_id_no_ask_has_goes_to_the_sdk_and_one_with_the_id_as_a_string_is_taken(
    rig: Rig, tools: Tools
) -> None:
    stray = _wire(_answer(99, {}))

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        rig.send(stray)
        rig.send(_answer("1", {"roots": []}))  # the SDK's dispatcher correlates "1" with 1 too
        assert rig.message()["id"] == "c1"

    rig.run(script)
    assert tools.outcomes == [_answer("1", {"roots": []})]
    assert rig.handover.preface == stray


def test_end_of_input_while_an_ask_waits_ends_it_at_once(rig: Rig, tools: Tools) -> None:
    found: list[dict[str, Any]] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        rig.close_stdin()
        found.append(rig.message())

    rig.run(script)
    assert tools.outcomes == [{"gone": "end of input"}]
    assert json.loads(found[0]["result"]["content"][0]["text"]) == [{"gone": "end of input"}]
    assert rig.handover.ended == "eof"


def test_after_a_stop_end_of_input_ends_the_asks_waiting(rig: Rig, tools: Tools) -> None:
    listed = _wire({"jsonrpc": "2.0", "id": "r", "method": "resources/list"})

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        rig.send(listed)  # the SDK's: the loop stops there, and reads on for the answer
        rig.close_stdin()
        assert rig.message()["id"] == "c1"

    rig.run(script)
    assert tools.outcomes == [{"gone": "end of input"}]
    assert rig.handover.preface == listed
    assert rig.handover.ended is None


def test_a_signal_lets_an_ask_be_answered_within_the_grace(rig: Rig, tools: Tools) -> None:
    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        assert rig.message()["id"] == 1
        os.kill(os.getpid(), signal.SIGTERM)  # the loop's receiver has been open since it started
        _until(lambda: rig.handover.ended == "SIGTERM")
        rig.send(_answer(1, {"roots": []}))
        assert rig.message()["id"] == "c1"

    rig.run(script)
    assert tools.outcomes == [_answer(1, {"roots": []})]


def test_a_signal_ends_an_unanswered_ask_after_the_grace(tools: Tools) -> None:
    rig = Rig(tools, grace=0.2)
    try:

        def script(rig: Rig) -> None:
            rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
            assert rig.message()["id"] == 1
            os.kill(os.getpid(), signal.SIGTERM)

        started = time.monotonic()
        assert rig.run(script) == 0  # the call is cancelled with the session: never answered
        assert time.monotonic() - started < BOUND - 1
        assert tools.outcomes == [{"gone": "the early session has ended"}]
        assert rig.handover.ended == "SIGTERM"
    finally:
        rig.close()


def test_a_broken_stdout_ends_the_ask(rig: Rig, tools: Tools) -> None:
    def script(rig: Rig) -> None:
        os.close(rig.out_r)
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        _until(lambda: bool(tools.outcomes))
        rig.close_stdin()

    rig.run(script)
    assert tools.outcomes == [{"gone": "stdout is broken"}]


def test_a_cancelled_call_cancels_its_ask_as_the_sdk_does_and_a_late_answer_is_consumed(
    rig: Rig, tools: Tools
) -> None:
    written: list[bytes] = []

    def script(rig: Rig) -> None:
        rig.send(_call("c1", "ask", {"requests": [ROOTS]}))
        written.append(rig.line())
        rig.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c1"}})
        written.append(rig.line())
        rig.send(_answer(1, {"roots": []}), _call("c2", "plain"))  # the late answer: not the SDK's
        written.append(rig.line())
        rig.close_stdin()

    assert rig.run(script) == 1
    assert written[:2] == _sdk("roots/list", None, cancel=True)
    assert json.loads(written[2])["id"] == "c2"  # c1 is never answered
    assert tools.outcomes == []
    assert rig.handover.preface == b""
    assert rig.handover.ended == "eof"


def test_an_ask_apart_from_any_call_is_in_flight(tools: Tools) -> None:
    """The remote's event stream asks for the roots: the SDK's loader does not start while the ask
    waits, and the SDK ready, the loop waits for its answer before it hands over."""
    rig = Rig(tools, idle=0.02)
    waited: list[list[float]] = []
    try:

        def script(rig: Rig) -> None:
            rig.send(_call("c1", "later"))
            assert {json.dumps(rig.message()["id"]) for _ in range(2)} == {'"c1"', "1"}
            time.sleep(0.3)  # many idle periods
            waited.append(list(rig.loads))
            rig.wake()
            time.sleep(0.05)
            rig.send(_answer(1, {"roots": []}))
            _until(lambda: bool(tools.outcomes))

        rig.run(script)
        assert waited == [[]]
        assert tools.outcomes == [_answer(1, {"roots": []})]
    finally:
        rig.close()
