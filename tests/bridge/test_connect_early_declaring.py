"""A declaring client's first calls to a third-party 2025 server, with a cached offer: the link's bytes.

``server-everything`` speaks 2025 sessions (it refuses the ``server/discover`` probe), asks the
client for its roots once a session is initialized (on the session's GET stream) and, in its
``trigger-sampling-request`` tool, asks for a sampling mid-call.  A fresh ``connect`` process with
its offer cached (the lean front answers the opening; the early path runs) whose local client
declares roots, sampling and elicitation gets its first calls in one write.  The early session
relays those requests to the local client as the link's SDK client does (``bridge/earlyrelay.py``)
and answers every call itself.  Against ``VERTEX_STDIO_LEAN_CALLS=0``: the same answer bytes, the
same requests relayed to the local client (without their ids: the order of the GET stream's
request and the call's is the remote's) -- and one ``roots/list`` more, the one server-everything
sends the early session as it opens (it asks every session it opens; the link's opens after).
"""

from __future__ import annotations

import json
import queue
import re
from pathlib import Path
from typing import Any

import pytest
from stdio_server import INIT, Server
from third_party_servers import everything_server, third_party_ready

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

DECLARING = {**INIT, "capabilities": {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}}
ANSWERS: dict[str, dict[str, Any]] = {
    "roots/list": {"roots": [{"uri": "file:///home/ü/project", "name": "project"}]},
    "sampling/createMessage": {
        "role": "assistant", "content": {"type": "text", "text": "hello ü"}, "model": "m", "stopReason": "endTurn",
    },
    "elicitation/create": {"action": "accept", "content": {"name": "Ülle"}},
}  # fmt: skip
CALLS = {
    "echo": ("echo", {"message": "ü🙂"}),
    "sample": ("trigger-sampling-request", {"prompt": "ü🙂", "maxTokens": 7}),
    "roots": ("get-roots-list", {}),
}


def _call(id_: str, name: str, arguments: dict[str, Any]) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def _until(server: Server, ids: set[str], asked: list[dict[str, Any]]) -> None:
    """Answer every request relayed to the local client (validly) until ``ids`` are answered."""
    waiting = set(ids)
    while waiting:
        try:
            message = server.next_message(timeout=30)
        except queue.Empty:
            raise AssertionError(server.diagnostics[-4000:]) from None
        if "method" in message and "id" in message:
            asked.append(message)
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": ANSWERS[message["method"]]}
            server.send(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
        elif "method" not in message:
            waiting.discard(message.get("id"))


def _session(home: Path, url: str, lean: str, calls: dict[str, bytes]) -> tuple[list[bytes], list[Any], str]:
    """One process: the opening, the list, then the first of ``calls`` (``echo``), then the others
    in one write; stdout, the requests relayed to the local client (without ids), the log.  (Not all
    at once: server-everything registers its sampling and roots tools when it handles
    ``notifications/initialized``, which may come after a call the link sends right behind it: "Tool
    not found", on either path, by the time the link opens.)"""
    env = process_env(
        home, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEX_STDIO_LEAN_CALLS=lean, VERTEXSMS_LOG_LEVEL="DEBUG"
    )
    server = Server(env, home, ("connect", url))
    asked: list[dict[str, Any]] = []
    try:
        server.send(rpc("init", "initialize", DECLARING) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        _until(server, {"list"}, asked)
        for batch in ([k for k in calls if k == "echo"], [k for k in calls if k != "echo"]):
            server.send(b"".join(calls[k] for k in batch))
            _until(server, set(batch), asked)
        assert server.close_stdin() < 15
        relayed = sorted(json.dumps({k: v for k, v in m.items() if k != "id"}, sort_keys=True) for m in asked)
        return bytes(server.raw).splitlines(), relayed, server.diagnostics
    finally:
        server.finish()


def _answers(lines: list[bytes], ids: set[str]) -> dict[str, bytes]:
    found = {}
    for line in lines:
        message = json.loads(line)
        if "method" not in message and message.get("id") in ids:
            found[message["id"]] = line
    return found


def test_a_declaring_clients_first_calls_to_server_everything_get_the_link_paths_bytes(
    tmp_path: Path,
) -> None:
    problem = third_party_ready()
    if problem:
        pytest.skip(problem)
    calls = {id_: _call(id_, name, arguments) for id_, (name, arguments) in CALLS.items()}
    with everything_server(tmp_path) as url:
        results = {}
        for lean in ("1", "0"):
            home = tmp_path / f"lean-{lean}"
            home.mkdir()
            for _ in range(2):  # the first run caches the offer, the second the SDK's answers for it
                _session(home, url, lean, {})
            results[lean] = _session(home, url, lean, calls)
    (early, early_asked, early_log), (off, off_asked, off_log) = results["1"], results["0"]
    assert _answers(early, set(calls)) == _answers(off, set(calls))
    assert set(_answers(early, set(calls))) == set(calls)
    # the same requests, and one roots/list more: the one server-everything sends on the early
    # session's own stream as it opens (it asks every session it opens; the link's follows)
    roots = json.dumps({"jsonrpc": "2.0", "method": "roots/list"}, sort_keys=True)
    assert early_asked == sorted([*off_asked, roots])
    assert [json.loads(m)["method"] for m in early_asked].count("sampling/createMessage") == 1
    assert b"hello" in _answers(early, {"sample"})["sample"]  # the local client's sampling answer, relayed
    assert b"file:///home/" in _answers(early, {"roots"})["roots"]  # and its roots, asked mid-call
    found = re.findall(r"the early path answered (\d+) calls before the SDK was wanted", early_log)
    assert found, early_log[-3000:]  # the front answered the opening, the early path ran ...
    assert found[-1] == str(len(calls))  # ... and answered every call itself, relaying what was asked
    assert "left to the steady state" not in early_log
    assert "the SDK was imported for it" in early_log, early_log[-3000:]
    assert "the early path" not in off_log
