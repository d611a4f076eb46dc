"""``connect``'s lean call path through the real process: the link path's answers, byte for byte.

Two ``vertex-stdio connect`` processes against the SDK's own Streamable HTTP server
(``connect_script``: sessions, event-stream or JSON answers, a gate that fails on request): the
lean call path on, and ``VERTEX_STDIO_LEAN_CALLS=0`` (every call through the SDK and the link).
The same calls, typed every way -- arguments of every JSON kind, ids of every kind, escapes,
``_meta``, unknown and hidden tools -- and every kind of upstream failure must get the same bytes
(answers and the notifications between them), the remote must have received the same arguments
(``echo``) and the same answers to its own requests, a call that is not read-only must reach it
once whatever happens, and the lean process must have answered the plain calls itself.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from connect_script import Script
from loopback import serve_in_thread
from stdio_server import INIT, Server
from third_party_servers import everything_server, third_party_ready

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

HOWS = (
    "ok", "structured", "tool-error", "log", "ping", "big", "rpc-error", "rpc-error-null-data",
    "rpc-error-400", "rpc-error-closed", "500", "503", "404", "202", "text", "sse-unanswered",
    "asks", "input-required", "drop", "slow",
)  # fmt: skip
VALUES: list[Any] = [
    1, -0, 2**60, 1.0, 1.5e300, -1e-7, None, True, "", "ü🙂 \u2028 \\ \"", [[], {}], {"a": None},
    {"deep": [{"x": [None, 1]}]}, "x" * 20_000,
]  # fmt: skip


def _call(id_: Any, name: str, arguments: Any, **extra: Any) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, **extra},
    }
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def _cases() -> list[bytes]:
    lines = [_call(f"echo{i}", "echo", {"value": v}) for i, v in enumerate(VALUES)]
    lines += [_call(f"act-{how}", "act", {"how": how}) for how in HOWS]
    lines += [_call(f"look-{how}", "look", {"how": how}) for how in HOWS]
    ids: list[Any] = [0, -1, 2**53 - 1, "", "ü🙂", 'a"b\\c', "x" * 300]
    lines += [_call(id_, "echo", {"value": "id"}) for id_ in ids]
    lines += [
        _call("two", "echo", {"value": 1, "other": {"k": [1]}}),
        _call("none", "echo", {}),
        _call("unknown-arg", "echo", {"nope": 1}),
        _call("wrong-type", "act", {"how": 1}),
        _call("unknown-tool", "nope", {}),
        _call("sign-in", "sign_in", {}),
        _call("meta", "echo", {"value": 1}, _meta={"progressToken": "t"}),
        _call("meta-own", "echo", {"value": 1}, _meta={"k": "v"}),
        _call("args-null", "echo", None),
        json.dumps({"jsonrpc": "2.0", "id": "ascii-ü", "method": "tools/call", "params": {"name": "echo", "arguments": {"value": "ü\U0001f642"}}}).encode() + b"\n",
        b'{"jsonrpc":"2.0","id":"twice","method":"tools/call","params":{"name":"echo","arguments":{"value":1,"value":2}}}\n',
        b'  { "jsonrpc" : "2.0" , "id" : "spaced" , "method" : "tools/call" , "params" : { "name" : "echo" , "arguments" : { "value" : 3 } } }  \r\n',
    ]  # fmt: skip
    return lines


@pytest.fixture(params=["sse", "json"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _same(lean: list[bytes], off: list[bytes]) -> None:
    """The same answer, byte for byte, to every id; the same notifications (the link path relays a
    notification from its own task, so one may come just before or after the answer it came with)."""

    def answers(lines: list[bytes]) -> dict[str, str]:
        found = [(json.dumps(json.loads(line).get("id")), line.decode()) for line in lines]
        return {key: line for key, line in found if key != "null"}

    def notifications(lines: list[bytes]) -> list[str]:
        return sorted(line.decode() for line in lines if "id" not in json.loads(line))

    assert len(lean) == len(off)
    mine, theirs = answers(lean), answers(off)
    assert mine.keys() == theirs.keys()
    for key, line in mine.items():
        assert line == theirs[key], key
    assert notifications(lean) == notifications(off)


def _counts(log: str) -> tuple[int, int]:
    found = re.findall(r"the lean call path answered (\d+) calls and left (\d+) to the SDK", log)
    assert found, log[-3000:]
    return int(found[-1][0]), int(found[-1][1])


def _session(home: Path, url: str, lean: str, lines: list[bytes], *args: str) -> tuple[list[bytes], str]:
    """One ``connect`` process: the opening and the list, then every line sent once the one before
    was answered; stdout as written after the list's answer, and the log."""
    home.mkdir()
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT="2",
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    server = Server(env, home, ("connect", url, "--max-answer-mib", "0.1", *args))
    try:
        server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=30)["list"]
        start = len(server.raw)
        for line in lines:
            id_ = json.loads(line)["id"]
            server.send(line)
            assert id_ in server.answers({id_}, timeout=30)
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        return bytes(server.raw[start:]).splitlines(), server.diagnostics
    finally:
        server.finish()


def _scripted(home: Path, kind: str, lean: str, lines: list[bytes]) -> tuple[list[bytes], Script, str]:
    """``_session`` against its own scripted remote (``kind``: event-stream or JSON answers)."""
    script = Script(json_response=kind == "json")
    with serve_in_thread(script) as url:
        out, log = _session(home, f"{url}/mcp", lean, lines)
    return out, script, log


def test_every_call_typed_every_way_gets_the_link_paths_bytes(tmp_path: Path, kind: str) -> None:
    lines = _cases()
    lean, lean_remote, lean_log = _scripted(tmp_path / "lean", kind, "1", lines)
    off, off_remote, off_log = _scripted(tmp_path / "off", kind, "0", lines)
    assert len(lean) >= len(lines)
    _same(lean, off)
    # its requests mid-call answered alike (the SDK client answers each from a task of its own)
    assert sorted(map(repr, lean_remote.answers)) == sorted(map(repr, off_remote.answers))
    for how in HOWS:  # not read-only: reached the remote once, lean or not, whatever happened
        assert lean_remote.seen[f"act:{how}"] == off_remote.seen[f"act:{how}"] == 1, how
    # every plain call but those whose line the gate leaves to the SDK (a _meta, arguments null, an
    # escaped surrogate pair, a duplicate key) and the sign-in tool, all answered without a hand-over
    assert _counts(lean_log) == (len(lines) - 6, 0)
    assert len(lean_remote.answers) == 6  # the remote asked three things in act and look: answered here
    assert "the lean call path" not in off_log
    assert b'"data":"bye"' in b"".join(lean)  # the remote's notification mid-call, relayed
    unknown = {json.loads(line)["id"] for line in lean if b'\\"outcome\\": \\"unknown\\"' in line}
    assert unknown == {"act-drop", "act-sse-unanswered", "act-rpc-error-closed", "act-slow"}


def test_a_third_party_server_gets_the_same_calls_and_answers(tmp_path: Path) -> None:
    """``@modelcontextprotocol/server-everything``: a 2025 session with an ``Mcp-Session-Id``."""
    problem = third_party_ready()
    if problem:
        pytest.skip(problem)
    messages: list[Any] = ["hello", "ü🙂 \u2028", "", "x" * 5000, 1, None, ["a"]]
    lines = [_call(f"echo{i}", "echo", {"message": m}) for i, m in enumerate(messages)]
    sums: list[Any] = [(2, 40), (1.5, 2**60), ("2", 3), (None, 1)]
    lines += [_call(f"sum{i}", "get-sum", {"a": a, "b": b}) for i, (a, b) in enumerate(sums)]
    lines += [_call("unknown", "no-such-tool", {}), _call("no-args", "get-sum", {})]
    with everything_server(tmp_path) as url:
        lean, lean_log = _session(tmp_path / "lean", url, "1", lines)
        off, off_log = _session(tmp_path / "off", url, "0", lines)
    _same(lean, off)
    assert _counts(lean_log) == (len(lines), 0)
    assert "the lean call path" not in off_log
    assert b'"text":"Echo: hello"' in b"".join(lean)


ROOTS_ONLY = {"roots": {"listChanged": True}}
ASKED_FOR = {"sampling": {}, "elicitation": {}}
ANSWERS: dict[str, dict[str, Any]] = {  # what the local client answers, valid and not
    "roots/list": {"roots": [{"uri": "file:///home/ü/project", "name": "project"}]},
    "sampling/createMessage": {
        "role": "assistant", "content": {"type": "text", "text": "hello ü"}, "model": "m", "stopReason": "endTurn",
    },
    "elicitation/create": {"action": "accept", "content": {"name": "Ülle"}},
}  # fmt: skip
INVALID: dict[str, dict[str, Any]] = {
    "roots/list": {"roots": "none"},
    "sampling/createMessage": {"role": "robot", "content": {"type": "text"}},
    "elicitation/create": {"action": "maybe"},
}
REFUSAL = {"code": -32042, "message": "no, thanks", "data": {"why": [1, None, "ü"]}}


def _reply(request: dict[str, Any], how: str) -> bytes:
    """The local client's answer to a relayed request, ``how`` it is asked to answer."""
    method = request["method"]
    if how == "error":
        body: dict[str, Any] = {"error": REFUSAL}
    elif how == "invalid":
        body = {"result": INVALID[method]}
    else:
        body = {"result": ANSWERS[method]}
    return json.dumps({"jsonrpc": "2.0", "id": request["id"], **body}, ensure_ascii=False).encode() + b"\n"


def _dialogue(
    home: Path,
    url: str,
    lean: str,
    capabilities: dict[str, Any],
    calls: list[tuple[str, bytes, str]],
    *,
    first: int = 0,
    again: int = 0,
) -> tuple[list[bytes], list[dict[str, Any]], str]:
    """One ``connect`` process whose local client declares ``capabilities`` and answers what the
    remote asks it through ``connect`` (``calls``: the call's id, its line, and how the local client
    answers: ``valid``, ``invalid``, ``error``, ``slow``, ``never`` (not before the call's answer),
    ``cancel`` (the call is cancelled, then the request answered)); ``first``: how many requests the
    remote sends on its own once the list is answered, ``again`` once told the roots changed (each
    answered validly before the calls).  Stdout, the requests the local client was sent, and the
    log."""
    home.mkdir()
    env = process_env(
        home, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEXSMS_HTTP_TIMEOUT="4", VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )  # fmt: skip
    server = Server(env, home, ("connect", url))
    asked: list[dict[str, Any]] = []
    try:
        server.send(rpc("init", "initialize", {**INIT, "capabilities": capabilities}))
        server.send(rpc(None, "notifications/initialized") + rpc("list", "tools/list"))
        _answered(server, "list", "valid", asked)  # the remote may ask before the list is answered
        while len(asked) < first:
            _answered(server, None, "valid", asked)
        server.send(rpc(None, "notifications/roots/list_changed"))  # the remote may ask again
        while len(asked) < first + again:
            _answered(server, None, "valid", asked)
        for id_, line, how in calls:
            server.send(line)
            _answered(server, id_, how, asked)
        assert server.close_stdin() < 15
        return bytes(server.raw).splitlines(), asked, server.diagnostics
    finally:
        server.finish()


def _answered(server: Server, id_: str | None, how: str, asked: list[dict[str, Any]]) -> None:
    """Answer the requests relayed to the local client ``how`` it is told until the call ``id_`` is
    answered (None: until one request was); each request is kept in ``asked``."""
    end = id_
    while True:
        message = server.next_message(timeout=30)
        assert message is not None, server.diagnostics[-3000:]
        if end is not None and message.get("id") == end and "method" not in message:
            return
        if "method" not in message or "id" not in message:
            continue
        asked.append(message)
        if how == "slow":
            time.sleep(0.5)
        if how == "cancel":
            end = f"{id_}-after"
            cancel = {"requestId": id_, "reason": "changed my mind"}
            server.send(rpc(None, "notifications/cancelled", cancel) + rpc(end, "ping"))
        if how != "never":
            server.send(_reply(message, how))
        if id_ is None:
            return


WHATS = ("roots", "sample", "elicit", "all")
HOWS_LOCAL = ("valid", "invalid", "error", "slow")


def _ask(id_: str, what: str) -> bytes:
    """A call of ``ask`` (the remote asks ``what``), or of ``look`` for a gate's ``how``."""
    return _call(id_, "ask", {"what": what}) if what in WHATS else _call(id_, "look", {"how": what})


@pytest.mark.parametrize("era", ["2025", "2026"])
@pytest.mark.parametrize("declared", ["roots", "sampling+elicitation", "nothing"])
def test_a_client_that_declares_what_the_remote_asks_gets_the_link_paths_bytes(
    tmp_path: Path, era: str, declared: str
) -> None:
    """The remote's requests mid-call relayed to a local client that declared roots (or sampling and
    elicitation, or nothing), answered every way: the same bytes to the local client (answers and
    the requests relayed), the same answers and notifications (a timed-out call's cancel) at the
    remote; in the 2026-07-28 era the remote has no back-channel (and an ``input_required``)."""
    capabilities = {"roots": ROOTS_ONLY, "sampling+elicitation": ASKED_FOR, "nothing": {}}[declared]
    calls = [(f"{what}-{how}", what, how) for what in WHATS for how in HOWS_LOCAL]
    calls += [
        ("sample-cancel", "sample", "cancel"),
        ("roots-never", "roots", "never"),
        ("again", "roots", "valid"),
        ("input", "input-required", "valid"),
    ]
    lines = [(id_, _ask(id_, what), how) for id_, what, how in calls]
    found = {}
    for lean in ("1", "0"):
        script = Script(era=None if era == "2026" else era)
        with serve_in_thread(script) as url:
            out, asked, log = _dialogue(tmp_path / lean, f"{url}/mcp", lean, capabilities, lines)
        found[lean] = (out, asked, log, script)
    (lean_out, lean_asked, lean_log, lean_remote), (off_out, off_asked, off_log, off_remote) = (
        found["1"],
        found["0"],
    )
    _same(lean_out, off_out)
    assert lean_asked == off_asked
    assert sorted(map(repr, lean_remote.answers)) == sorted(map(repr, off_remote.answers))
    assert sorted(map(repr, lean_remote.notes)) == sorted(map(repr, off_remote.notes))
    relayed = {
        "roots": {"roots/list"},
        "sampling+elicitation": {"sampling/createMessage", "elicitation/create"},
    }
    assert {m["method"] for m in lean_asked} == (relayed.get(declared, set()) if era == "2025" else set())
    # the local client's roots/list_changed reached the remote, as the roots capability promised
    changed = {"method": "notifications/roots/list_changed", "params": {}}
    assert (changed in lean_remote.notes) == (declared == "roots" and era == "2025")
    # the lean process answered the calls itself: all but the one cancelled mid-relay (never
    # answered, so not counted), and left to the SDK at most the call after the timed-out call's
    # dropped connection, while the next connection opens
    answered, left = _counts(lean_log)
    assert answered + left == len(calls) - (era == "2025" and declared == "sampling+elicitation")
    assert left <= 1
    assert "the lean call path" not in off_log


def test_a_third_party_server_asks_a_client_that_declares_roots_sampling_and_elicitation(
    tmp_path: Path,
) -> None:
    """``server-everything`` registers its sampling, elicitation and roots tools for a client that
    declares them, and asks it for roots on its own once initialized (on its GET stream: the SDK
    client relays that one on either path); its tools' requests come mid-call, on the call's
    stream.  Answered every way, the local client and the tools' answers see the same bytes."""
    problem = third_party_ready()
    if problem:
        pytest.skip(problem)
    capabilities = {**ROOTS_ONLY, **ASKED_FOR}
    sample = {"prompt": "ü🙂", "maxTokens": 7}
    calls = [
        (f"sample-{how}", _call(f"sample-{how}", "trigger-sampling-request", sample), how)
        for how in HOWS_LOCAL
    ]
    calls += [
        (f"elicit-{how}", _call(f"elicit-{how}", "trigger-elicitation-request", {}), how)
        for how in HOWS_LOCAL
    ]
    calls += [("sample-cancel", _call("sample-cancel", "trigger-sampling-request", sample), "cancel")]
    calls += [("roots", _call("roots", "get-roots-list", {}), "valid")]
    with everything_server(tmp_path) as url:
        lean, lean_asked, lean_log = _dialogue(
            tmp_path / "lean", url, "1", capabilities, calls, first=1, again=1
        )
        off, off_asked, off_log = _dialogue(tmp_path / "off", url, "0", capabilities, calls, first=1, again=1)
    _same(lean, off)
    assert lean_asked == off_asked
    # its own roots/list once initialized, and again once told the roots changed; then its tools'
    assert [m["method"] for m in lean_asked] == ["roots/list"] * 2 + ["sampling/createMessage"] * 4 + [
        "elicitation/create"
    ] * 4 + ["sampling/createMessage"]
    assert b"hello \\u00fc" in b"".join(lean) or "hello ü".encode() in b"".join(lean)
    answered, left = _counts(lean_log)
    assert (answered, left) == (len(calls) - 1, 0)  # the cancelled call is never answered
    assert "the lean call path" not in off_log
