"""The real process under hostile stdin: it answers, survives, keeps stdout pure, and exits promptly on EOF."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import jsonrpc_message_adapter
from stdio_server import SEND, Server

from bridge import emulator_env, rpc
from vertex_stdio.mcpio.checks import check_line
from vertex_stdio.mcpio.lines import LineSplitter, Rejected
from vertex_stdio.mcpio.stdio import BUSY, MAX_IN_FLIGHT
from vertex_stdio.vertexsms.sandbox import Emulator, Fault


@pytest.fixture
def server(emulator: Emulator, tmp_path: Path) -> Iterator[Server]:
    emulator.clear_faults()
    emulator.clear_journal()
    env = emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="3",
    )
    proc = Server(env, tmp_path)
    try:
        yield proc
    finally:
        proc.finish()
        emulator.clear_faults()


BAD_LINES: list[tuple[str, bytes, int | None, Any]] = [
    # (case, line, expected JSON-RPC error code or None for no answer, expected id)
    ("not-json", b"this is not json\n", -32700, None),
    ("truncated-json", b'{"jsonrpc": "2.0", "id": 20, "method": "ping"\n', -32700, None),
    ("method-not-string", b'{"jsonrpc":"2.0","id":7,"method":1}\n', -32600, 7),
    ("params-300-deep", rpc(8, "ping", {"a": json.loads('{"a":' * 300 + "1" + "}" * 300)}), -32600, 8),
    ("batch", b'[{"jsonrpc":"2.0","id":21,"method":"ping"}]\n', -32600, None),
    ("json-not-jsonrpc", b'{"hello": "world"}\n', -32600, None),
    ("json-scalar", b'"just a string"\n', -32600, None),
    ("wrong-version", b'{"jsonrpc":"1.0","id":22,"method":"ping"}\n', -32600, 22),
    ("object-id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}\n', -32600, None),
    ("invalid-utf8", b'{"jsonrpc":"2.0","id":23,"method":"ping","params":{"x":"\xff\xfe"}}\n', -32700, 23),
    ("lone-surrogate", b'{"jsonrpc":"2.0","id":24,"method":"ping","params":{"x":"\\ud800"}}\n', -32600, 24),
    ("unknown-method", rpc(25, "tools/explode"), -32601, 25),
    ("unknown-notification", rpc(None, "notifications/unheard_of"), None, None),
    ("blank-line", b"   \n", None, None),
    ("bom-then-ping", b"\xef\xbb\xbf" + rpc(26, "ping"), 0, 26),
    ("crlf-ping", rpc(27, "ping").rstrip(b"\n") + b"\r\n", 0, 27),
    ("unknown-tool", rpc(28, "tools/call", {"name": "drop_tables", "arguments": {}}), 0, 28),
    ("call-without-arguments", rpc(29, "tools/call", {"name": "get_operator"}), 0, 29),
]


@pytest.mark.slow
def test_malformed_lines_are_answered_and_survived(server: Server) -> None:
    """Each bad line gets its JSON-RPC error (or, for notifications and blanks, silence) and the next ping is answered."""
    server.initialize()
    for number, (case, line, code, expected_id) in enumerate(BAD_LINES):
        probe = f"ping-{number}"
        server.send(line + rpc(probe, "ping"))
        found = server.answers({probe} | ({expected_id} if code is not None and code != 0 else set()))
        assert "result" in found[probe], case
        if code is None:
            assert expected_id is None or expected_id not in found, case
        elif code == 0:
            assert "result" in found[expected_id] or found[expected_id]["error"]["code"] == -32602, case
        else:
            assert found[expected_id]["error"]["code"] == code, (case, found[expected_id])
    # nothing else was answered: one reply per ping and per expected error, no stray messages
    assert server.tools_listed("after")
    assert server.close_stdin() < 5
    assert server.proc.returncode == 0


@pytest.mark.slow
def test_ten_megabyte_line_is_discarded_in_bounded_memory(server: Server, record_property: Any) -> None:
    """A 10 MB line is refused with -32600 without holding it; memory stays bounded and the next call is served."""
    server.initialize()
    assert server.tools_listed("warm")
    server.send(rpc("sdk", "prompts/list"))  # the lean front answers the opening; this waits for the SDK
    assert set(server.answers({"sdk"})["sdk"]) & {"result", "error"}
    before = server.peak_rss_mb()
    huge = rpc(30, "tools/call", {"name": "send_sms", "arguments": {**SEND, "message": "x" * 10_000_000}})
    started = time.monotonic()
    server.send(huge + rpc("after-huge", "ping"))
    found = server.answers({None, "after-huge"})
    seconds = time.monotonic() - started
    after = server.peak_rss_mb()
    record_property("rss_before_mb", round(before, 1))
    record_property("rss_after_mb", round(after, 1))
    record_property("seconds", round(seconds, 2))
    assert found[None]["error"]["code"] == -32600
    assert "longer than 4 MiB" in found[None]["error"]["message"]
    assert "result" in found["after-huge"]
    assert after - before < 30, f"peak RSS grew from {before:.0f} MB to {after:.0f} MB"
    # just under the cap: read in full, then refused by the tool's schema (message is at most 4000 chars)
    big = rpc(31, "tools/call", {"name": "send_sms", "arguments": {**SEND, "message": "y" * 3_000_000}})
    server.send(big)
    result = server.answers({31})[31]["result"]
    assert result["isError"] is True
    assert json.loads(result["content"][0]["text"])["error"]["code"] == "INVALID_INPUT"
    record_property("rss_after_3mb_call_mb", round(server.peak_rss_mb(), 1))
    assert server.tools_listed("after")


@pytest.mark.slow
def test_five_hundred_requests_at_once(server: Server, emulator: Emulator, record_property: Any) -> None:
    """500 requests written in one burst (pings, lists and tool calls) are each answered exactly once:
    with its result, or -- while ``MAX_IN_FLIGHT`` answers are still unwritten (a client that reads
    stdout slower than the server answers: the test's reader under load) -- refused as busy; sent
    again as that answer says, once the burst was answered, each refused one gets its result."""
    server.initialize()
    requests = {}
    for n in range(500):
        if n % 3 == 0:
            requests[n] = rpc(n, "ping")
        elif n % 3 == 1:
            requests[n] = rpc(n, "tools/list")
        else:
            requests[n] = rpc(n, "tools/call", {"name": "get_operator", "arguments": {"operatorId": 1101}})
    started = time.monotonic()
    server.send(b"".join(requests.values()))
    found = server.answers(set(range(500)), timeout=60)
    seconds = time.monotonic() - started
    record_property("seconds", round(seconds, 2))
    assert set(range(500)) <= found.keys()
    responses = [m for m in server.messages if m.get("id") in range(500)]
    assert len(responses) == 500
    busy = [n for n in range(500) if "result" not in found[n]]
    record_property("busy", len(busy))
    assert all(
        found[n]["error"]["code"] == BUSY and "in flight" in found[n]["error"]["message"] for n in busy
    )
    assert len(busy) <= 500 - MAX_IN_FLIGHT + 1  # the replayed initialize may still count
    seen = len(server.messages)
    server.send(b"".join(requests[n] for n in busy))
    while len(again := {m["id"]: m for m in server.messages[seen:] if m.get("id") in busy}) < len(busy):
        assert server.next_message(60) is not None, "a request sent again was not answered"
    assert all("result" in again[n] for n in busy)
    calls = [(found[n] if "result" in found[n] else again[n])["result"] for n in range(2, 500, 3)]
    assert all(c["isError"] is False for c in calls)
    assert server.tools_listed("after")


@pytest.mark.slow
def test_cancelled_send_is_not_retried_and_its_outcome_is_logged(server: Server, emulator: Emulator) -> None:
    """A send cancelled while VertexSMS is slow: no response for it, one POST only, and the log records its outcome."""
    server.initialize()
    emulator.inject(Fault(method="POST", path="/sms", delay=2.0))
    server.send(rpc(40, "tools/call", {"name": "send_sms", "arguments": SEND}))
    deadline = time.monotonic() + 5
    while not emulator.journal_for("POST", "/sms") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emulator.journal_for("POST", "/sms")) == 1
    server.send(rpc(None, "notifications/cancelled", {"requestId": 40, "reason": "user pressed stop"}))
    assert server.tools_listed("during")  # served while the send is still in flight
    deadline = time.monotonic() + 10
    while "send_sms: VertexSMS answered HTTP 200" not in server.diagnostics and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "send_sms: VertexSMS answered HTTP 200" in server.diagnostics
    assert server.tools_listed("after")
    assert server.close_stdin() < 5
    assert 40 not in {m.get("id") for m in server.messages}
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.slow
def test_eof_during_a_read_exits_promptly(server: Server, emulator: Emulator, record_property: Any) -> None:
    """stdin closed while a read waits on a stalled VertexSMS: the process exits at once with status 0."""
    server.initialize()
    emulator.inject(Fault(method="GET", path="/operators/1101", delay=30.0, times=None))
    server.send(rpc(50, "tools/call", {"name": "get_operator", "arguments": {"operatorId": 1101}}))
    deadline = time.monotonic() + 5
    while not emulator.journal_for("GET", "/operators/1101") and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = server.close_stdin()
    record_property("exit_seconds", round(seconds, 2))
    assert seconds < 5
    assert server.proc.returncode == 0


@pytest.mark.slow
def test_eof_during_a_send_waits_for_its_outcome(
    server: Server, emulator: Emulator, record_property: Any
) -> None:
    """stdin closed while a send is in flight: the process logs the send's outcome before it exits, within the deadline."""
    server.initialize()
    emulator.inject(Fault(method="POST", path="/sms", delay=1.5))
    server.send(rpc(60, "tools/call", {"name": "send_sms", "arguments": SEND}))
    deadline = time.monotonic() + 5
    while not emulator.journal_for("POST", "/sms") and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = server.close_stdin()
    record_property("exit_seconds", round(seconds, 2))
    assert seconds < 3 + 5  # never longer than the send's deadline (http timeout 3 s + 5 s)
    assert server.proc.returncode == 0
    assert "send_sms: VertexSMS answered HTTP 200" in server.diagnostics
    assert len(emulator.journal_for("POST", "/sms")) == 1


def test_line_splitter_bounds_every_line() -> None:
    """Lines split across chunks are joined; an oversized one becomes one rejection and the next line survives."""
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"abc") == []
    assert splitter.feed(b"def\nxy") == [b"abcdef"]
    out = splitter.feed(b"z" * 30)  # "xy" + 30 bytes: over the limit, dropped as it arrives
    assert len(out) == 1
    assert isinstance(out[0], Rejected)
    assert out[0].code == -32600
    assert splitter.feed(b"zzz\nok\n") == [b"ok"]  # the rest of the long line is skipped
    assert splitter.feed(b"last") == []
    assert splitter.end() == [b"last"]  # a final line without a newline still counts
    assert splitter.feed(b"q" * 11) != []
    assert splitter.end() == []  # an oversized final line is not passed on


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":1,"method":"ping"}'),
        (
            b"\xef\xbb\xbf" + b'{"jsonrpc":"2.0","method":"ping","id":"a"}\r',
            '{"jsonrpc":"2.0","method":"ping","id":"a"}',
        ),
        (b"  ", None),
        (b"nope", (-32700, None)),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', (-32600, None)),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', (-32600, None)),
        (
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        ),
        (b'{"jsonrpc":"2.0","id":"x","method":["ping"]}', (-32600, "x")),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', (-32600, None)),
        (b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"t":"\xc3\x28"}}', (-32700, 5)),
        (b"[" * 100_000, (-32700, None)),
    ],
)
def test_check_line(line: bytes, expected: object) -> None:
    """Good lines pass as their message, validated once (BOM and blanks aside); bad ones get the right code and the id when readable."""
    checked = check_line(line)
    if isinstance(checked, Rejected):
        assert (checked.code, checked.id) == expected
    else:
        assert checked == (expected if expected is None else jsonrpc_message_adapter.validate_json(expected))
