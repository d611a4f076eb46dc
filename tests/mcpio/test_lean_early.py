"""The lean call path before the SDK loads (``mcpio/early.py``), through the real process.

The front answers the opening; the first hosted call is then answered on the lean path with the
SDK not yet imported, and a session that ends there ends as any session does: a signal lets the
calls in flight answer (exit 0 for SIGTERM, 130 for Ctrl-C), a cancelled call is never answered,
the in-flight limit holds, and what the lean path does not take goes to the SDK whole.  The
scripted hosted server (``hosted_script``) holds its "AT" answers until the test releases them,
so a call is in flight for as long as a test needs, with no timing in the test.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hosted_script import HostedScript
from lean_session import Hosted, call, hosted_server, lean_server, opening
from stdio_server import Server

from bridge import rpc

pytestmark = pytest.mark.slow

HELD = {"country": "AT"}  # held by the scripted server until released
FAST = {"country": "LT"}


@pytest.fixture
def hosted() -> Iterator[Hosted]:
    with hosted_server() as found:
        yield found


@pytest.fixture
def script(hosted: Hosted) -> HostedScript:
    return hosted.script


@pytest.fixture
def server(tmp_path: Path, hosted: Hosted) -> Iterator[Server]:
    """The process, serving with the token pasted; its stdout is checked pure when it ends."""
    with lean_server(tmp_path, hosted.url) as found:
        yield found


def _call(id_: Any, arguments: dict[str, Any]) -> bytes:
    return call(id_, "get_mobile_prefixes", arguments)


def _held(script: HostedScript, calls: int) -> None:
    """Wait (bounded) until the scripted server has received ``calls`` tools/call requests."""
    deadline = time.monotonic() + 60
    while script.calls < calls:
        assert time.monotonic() < deadline, "the call did not reach the hosted server"
        time.sleep(0.01)


def _opening() -> bytes:
    return opening() + rpc("list", "tools/list")


def test_the_first_call_is_answered_before_the_sdk_is_imported(server: Server) -> None:
    server.send(_opening() + _call(1, FAST))
    assert server.answers({1})[1]["result"]["isError"] is False
    server.send(rpc(2, "ping"))  # the early loop answers a plain ping itself, and reads on
    assert server.answers({2})[2]["result"] == {}
    server.send(rpc(4, "prompts/list"))  # the SDK's: the lean path hands the session over
    assert set(server.answers({4})[4]) & {"result", "error"}
    server.send(_call(3, FAST))
    assert server.answers({3})[3]["result"]["isError"] is False
    assert server.close_stdin() < 15
    assert server.proc.returncode == 0
    log = server.diagnostics
    assert "the first lean call is answered; the SDK is not imported" in log
    assert "the lean call path answered 1 calls before the SDK was wanted" in log
    assert "the lean call path answered 1 calls and left 0 to the SDK" in log  # id 3, after


@pytest.mark.parametrize(
    ("name", "arguments", "pydantic"),
    [
        # the scripted server's corrections and BE's prefixes are plain JSON: checked without pydantic
        ("correct_phone_number", {"numbers": [{"number": "8618 ü", "country": "LT", "x": 1.5}]}, "not "),
        ("get_mobile_prefixes", {"country": "BE"}, "not "),
        # LT's answer has floats among its extras: the models decide (issue 22: ~60-80 ms more)
        ("get_mobile_prefixes", FAST, ""),
        # an argument outside the certified subset: the models decide, and the SDK words their refusal
        ("correct_phone_number", {"numbers": [{"number": "8" * 41, "country": "LT"}]}, None),
    ],
)
def test_a_plain_first_call_is_answered_without_pydantic(
    server: Server, name: str, arguments: dict[str, Any], pydantic: str | None
) -> None:
    """What is certainly valid is answered before pydantic is imported, read in the process itself
    (``sys.modules`` at the first answer, before the SDK's loader may start: it waits for the
    calls in flight); the rest on the models, as before."""
    server.send(_opening() + call(1, name, arguments))
    answer = server.answers({1})[1]
    server.send(rpc(2, "prompts/list"))  # the SDK's: it loads, and pydantic with it
    assert set(server.answers({2})[2]) & {"result", "error"}
    assert server.close_stdin() < 15
    log = server.diagnostics
    if pydantic is None:  # refused in the SDK's words: the call went to the SDK
        assert answer["result"]["isError"] is True, answer
        assert "at most 40 characters" in answer["result"]["content"][0]["text"], answer
        assert "the first lean call is answered" not in log
        return
    assert answer["result"]["isError"] is False, answer
    assert f"the first lean call is answered; the SDK is not imported; pydantic is {pydantic}imported" in log


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_lets_the_call_in_flight_answer_then_exits(
    server: Server, script: HostedScript, signum: signal.Signals, status: int
) -> None:
    server.send(_opening() + _call("held", HELD))
    _held(script, 1)
    server.proc.send_signal(signum)
    script.release.set()
    assert server.proc.wait(timeout=30) == status
    assert server.answers({"held"})["held"]["result"]["isError"] is False
    assert "the SDK is not imported" in server.diagnostics


def test_end_of_input_with_a_call_held_exits_after_the_drain(server: Server, script: HostedScript) -> None:
    server.send(_opening() + _call("held", HELD))
    _held(script, 1)
    assert server.close_stdin() < 15
    assert server.proc.returncode == 0
    assert all(m.get("id") != "held" for m in server.messages)  # cancelled after the drain, unanswered


def test_a_cancelled_call_is_never_answered_and_the_next_is(server: Server, script: HostedScript) -> None:
    server.send(_opening() + _call("held", HELD))
    _held(script, 1)
    server.send(rpc(None, "notifications/cancelled", {"requestId": "held", "reason": "moved on"}))
    server.send(_call("next", FAST))
    assert server.answers({"next"})["next"]["result"]["isError"] is False
    script.release.set()
    assert server.close_stdin() < 15
    assert all(m.get("id") != "held" for m in server.messages)


@pytest.mark.parametrize("first", ["lean", "sdk"])
def test_the_in_flight_limit_holds_before_and_after_the_sdk_loads(
    server: Server, script: HostedScript, first: str
) -> None:
    """``lean``: the 300 calls come before the SDK is wanted; ``sdk``: a ping hands the session
    to the SDK first, and the wire's lean path takes them."""
    server.send(_opening() + (rpc("ping", "ping") if first == "sdk" else b""))
    if first == "sdk":
        assert "result" in server.answers({"ping"})["ping"]
    ids = [f"c{i}" for i in range(300)]
    server.send(b"".join(_call(i, HELD) for i in ids))
    while sum("error" in m for m in server.messages) < 300 - 256:
        assert server.next_message(timeout=60) is not None
    script.release.set()
    found = server.answers(set(ids), timeout=60)
    busy = sum(found[i].get("error", {}).get("code") == -32000 for i in ids)
    # after the SDK's replay, its answers to the replayed opening may still count for a moment
    assert busy == 300 - 256 if first == "lean" else 300 - 256 <= busy <= 300 - 256 + 3
    assert sum(found[i].get("result", {}).get("isError") is False for i in ids) == 300 - busy
    assert server.close_stdin() < 15


def test_busy_answers_are_the_sdks_bytes(tmp_path: Path, hosted: Hosted) -> None:
    """The first busy answer of each path, its id aside (which call is refused depends on when
    the replayed opening's answers are written)."""
    script = hosted.script
    lines = {}
    for first in ("lean", "sdk"):
        script.release.clear()
        home = tmp_path / first
        home.mkdir()
        with lean_server(home, hosted.url) as server:
            server.send(_opening() + (rpc("ping", "ping") if first == "sdk" else b""))
            server.send(b"".join(_call(f"c{i}", HELD) for i in range(257)))
            while not any("error" in m for m in server.messages):
                assert server.next_message(timeout=60) is not None
            busy = next(m for m in server.messages if "error" in m)
            raw = next(r for r in bytes(server.raw).splitlines() if json.loads(r).get("id") == busy["id"])
            lines[first] = raw.replace(json.dumps(busy["id"]).encode(), b'"ID"')
            script.release.set()
    assert lines["lean"] == lines["sdk"]
    assert json.loads(lines["lean"])["error"]["code"] == -32000
