"""A declaring client's first call to the SDK's own 2025 server, whose tool asks it something
mid-call: the early path relays it and answers as the link path does, at both ends.

Fresh ``connect`` processes with the offer cached (the lean front answers the opening, the early
path runs) whose local client declares roots, sampling and elicitation, against the SDK's own
Streamable HTTP server refusing ``server/discover`` (a 2025-11-25 session; ``connect_script``):
one first call of ``ask`` (not read-only), which asks ``elicitation/create`` or ``roots/list`` on
the call's stream; the local client answers validly, with an error, with a malformed answer, or
not at all (it closes its stdin instead).  Against ``VERTEX_STDIO_LEAN_CALLS=0`` (the link's SDK
client relays): the same lines on stdout (the request relayed, without its id; the call's
answer, byte for byte), the same answer at the remote to its request, the call received once,
and the early path answered the call itself.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connect_script import Script
from loopback import serve_in_thread
from received import Received
from stdio_server import INIT, Server
from test_connect_early_calls import cached

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

DECLARING = {**INIT, "capabilities": {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}}
VALID: dict[str, dict[str, Any]] = {
    "roots/list": {"roots": [{"uri": "file:///home/ü/project", "name": "project"}]},
    "elicitation/create": {"action": "accept", "content": {"name": "Ülle"}},
}
MALFORMED: dict[str, dict[str, Any]] = {
    "roots/list": {"roots": "none"},
    "elicitation/create": {"action": "maybe"},
}
REFUSAL = {"code": -32042, "message": "no, thanks", "data": {"why": [1, None, "ü"]}}
CASES = [(what, how) for what in ("elicit", "roots") for how in ("valid", "error", "malformed", "eof")]


class Remote:
    """The script behind a recorder, at one URL for the whole test (the cached offer is this URL's)."""

    def __init__(self) -> None:
        self.script = Script(era="2025")
        self.received = Received(self.script)
        self.url = ""

    def forget(self) -> None:
        self.script.seen.clear()
        self.script.answers.clear()
        self.received.seen.clear()

    def answers(self) -> list[str]:
        """The answers to the remote's own requests, without their ids."""
        return [json.dumps({k: v for k, v in a.items() if k != "id"}) for a in self.script.answers]

    def calls(self) -> list[str]:
        """The ``tools/call`` POSTs it received (params with ``_meta``, the MCP headers)."""
        return [json.dumps([s["params"], s["headers"]]) for s in self.received.requests("tools/call")]


@pytest.fixture
def remotes(tmp_path: Path) -> Iterator[tuple[Remote, Remote]]:
    early, off = Remote(), Remote()
    with serve_in_thread(early.received) as one, serve_in_thread(off.received) as two:
        early.url, off.url = f"{one}/mcp", f"{two}/mcp"
        for name, remote in (("early", early), ("off", off)):
            cached(tmp_path / name, remote.url)
        yield early, off


def _reply(request: dict[str, Any], how: str) -> bytes:
    method = request["method"]
    body = (
        {"error": REFUSAL} if how == "error" else {"result": (VALID if how == "valid" else MALFORMED)[method]}
    )
    return json.dumps({"jsonrpc": "2.0", "id": request["id"], **body}, ensure_ascii=False).encode() + b"\n"


@contextlib.contextmanager
def _asking(home: Path, url: str, lean: str, what: str) -> Iterator[tuple[Server, int]]:
    """One process: the opening and the list, then ``ask`` (``what``) sent; the process and where
    its stdout after the list starts.  The process is finished on the way out."""
    env = process_env(
        home, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEX_STDIO_LEAN_CALLS=lean, VERTEXSMS_LOG_LEVEL="DEBUG"
    )
    server = Server(env, home, ("connect", url))
    try:
        server.send(rpc("init", "initialize", DECLARING) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=30)["list"]
        start = len(server.raw)
        line = {
            "jsonrpc": "2.0",
            "id": "c",
            "method": "tools/call",
            "params": {"name": "ask", "arguments": {"what": what}},
        }
        server.send(json.dumps(line).encode() + b"\n")
        yield server, start
    finally:
        server.finish()


def _first_call(home: Path, url: str, lean: str, what: str, how: str) -> tuple[list[Any], str]:
    """One process: the opening and the list, then ``ask`` (``what``), the local client answering
    what it is asked ``how``; stdout after the list (a request relayed without its id), the log."""
    with _asking(home, url, lean, what) as (server, start):
        while True:
            message = server.next_message(timeout=30)
            assert message is not None, server.diagnostics[-3000:]
            if "method" in message and "id" in message and how == "eof":
                break
            if "method" in message and "id" in message:
                server.send(_reply(message, how))
            elif message.get("id") == "c":
                break
        assert server.close_stdin() < 15
        out: list[Any] = []
        for raw in bytes(server.raw[start:]).splitlines():
            message = json.loads(raw)
            out.append({k: v for k, v in message.items() if k != "id"} if "method" in message else raw)
        return out, server.diagnostics


def test_a_first_call_whose_remote_asks_the_local_client_gets_the_link_paths_bytes_at_both_ends(
    tmp_path: Path, remotes: tuple[Remote, Remote]
) -> None:
    early_remote, off_remote = remotes
    for what, how in CASES:
        found = {}
        for lean, remote in (("1", early_remote), ("0", off_remote)):
            remote.forget()
            out, log = _first_call(
                tmp_path / ("early" if lean == "1" else "off"), remote.url, lean, what, how
            )
            found[lean] = (out, log, remote.answers(), remote.calls())
        (early, early_log, early_answers, early_calls), (off, _, off_answers, off_calls) = (
            found["1"],
            found["0"],
        )
        case = f"{what}/{how}"
        if how == "eof":  # the link's SDK client closes with the session: it answers "Connection
            # closed" before the remote's answer comes; the early path has the remote's answer by then
            assert early[0] == off[0], case  # the same request relayed
            assert off[1:] == [
                b'{"jsonrpc":"2.0","id":"c","error":{"code":-32000,"message":"Connection closed"}}'
            ]
            assert len(early) == 2, case
            assert b'"result"' in early[1], case
            assert b"Connection closed" in early[1], case
        else:
            assert early == off, case
        assert early_answers == off_answers, case
        assert len(early_answers) == 1, case  # the remote's request was answered
        assert early_calls == off_calls, case
        assert len(early_calls) == 1, case  # not read-only: received once
        counts = re.findall(r"the early path answered (\d+) calls before the SDK was wanted", early_log)
        assert counts[-1] == "1", (case, early_log[-3000:])  # the early path answered it itself
        assert "left to the steady state" not in early_log, case
    # the comparison can fail: what the local client answered reached the remote as it wrote it
    assert "Ülle" in early_answers[0] or "project" in early_answers[0] or "error" in early_answers[0]


def _cancelled_mid_relay(home: Path, url: str, lean: str) -> list[Any]:
    """One process: ``ask`` (elicitation), cancelled by the local client once it is asked, which
    then answers anyway; stdout after the list (requests without their ids)."""
    with _asking(home, url, lean, "elicit") as (server, start):
        message = server.next_message(timeout=30)
        assert message is not None
        assert message.get("method") == "elicitation/create", server.diagnostics[-3000:]
        cancel = {"requestId": "c", "reason": "changed my mind"}
        server.send(rpc(None, "notifications/cancelled", cancel))
        time.sleep(0.5)  # the cancel reaches the remote first
        # (the ping after the answer: the session still serves once the late answer is in)
        server.send(_reply(message, "valid") + rpc("p", "ping"))
        assert "result" in server.answers({"p"}, timeout=30)["p"]
        assert server.close_stdin() < 15
        return [json.loads(raw) for raw in bytes(server.raw[start:]).splitlines()]


def test_a_first_call_cancelled_while_its_remote_asks_is_given_up_at_the_remote_as_the_link_does(
    tmp_path: Path, remotes: tuple[Remote, Remote]
) -> None:
    """The remote is told (the SDK client's courtesy ``notifications/cancelled``, "caller
    cancelled"), so it stops the call, and the call is never answered on either path.  (Not the
    same: the link's SDK client reads on the call's stream after its cancel, so the remote's own
    cancel of its ``elicitation/create`` reaches it and it cancels the relay -- the local client gets
    the dispatcher's courtesy cancel; the early session closes that stream, so the local client's
    answer is relayed, and the remote, whose call is gone, ignores it.)"""
    early_remote, off_remote = remotes
    found = {}
    for lean, remote in (("1", early_remote), ("0", off_remote)):
        remote.forget()
        out = _cancelled_mid_relay(tmp_path / ("early" if lean == "1" else "off"), remote.url, lean)
        cancels = [n for n in remote.script.notes if n["method"] == "notifications/cancelled"]
        found[lean] = (out, cancels, remote.calls())
    (early, early_cancels, early_calls), (off, off_cancels, off_calls) = found["1"], found["0"]
    assert (
        early_cancels
        == off_cancels
        == [{"method": "notifications/cancelled", "params": {"reason": "caller cancelled"}}]
    )
    assert early_calls == off_calls
    assert len(early_calls) == 1
    assert not [m for m in early + off if m.get("id") == "c"]  # never answered


def _pinged_while_asked(home: Path, url: str, lean: str) -> tuple[list[bytes], str]:
    """One process: ``ask`` (elicitation); once the local client is asked, it pings, and answers
    the elicitation only after the ping's answer (bounded: 10 s); stdout after the list, the log."""
    with _asking(home, url, lean, "elicit") as (server, start):
        asked = server.next_message(timeout=30)
        assert asked is not None, server.diagnostics[-3000:]
        assert asked.get("method") == "elicitation/create", server.diagnostics[-3000:]
        server.send(rpc("p", "ping"))  # the person has not answered yet
        try:
            pong = server.next_message(timeout=10)
        except queue.Empty:  # held until the person answers
            pong = None
        assert pong is not None, ("the ping was held", lean, server.diagnostics[-3000:])
        assert pong.get("id") == "p", (lean, pong)
        server.send(_reply(asked, "valid"))
        assert "result" in server.answers({"c"}, timeout=30)["c"]
        assert server.close_stdin() < 15
        return bytes(server.raw[start:]).splitlines()[1:], server.diagnostics


def test_a_ping_while_the_remote_asks_the_local_client_is_answered_before_the_answer_as_on_the_link(
    tmp_path: Path, remotes: tuple[Remote, Remote]
) -> None:
    """A client pinging to check the server lives, while its person answers an elicitation, gets
    its answer at once on the early path (the early loop answers it), as on the link path (the
    SDK answers it), the same bytes; then the call is answered, as on the link."""
    early_remote, off_remote = remotes
    found = {}
    for lean, remote in (("1", early_remote), ("0", off_remote)):
        remote.forget()
        found[lean] = _pinged_while_asked(tmp_path / ("early" if lean == "1" else "off"), remote.url, lean)
    (early, early_log), (off, _) = found["1"], found["0"]
    assert early == off
    assert early[0] == b'{"jsonrpc":"2.0","id":"p","result":{}}'
    assert json.loads(early[1])["id"] == "c"
    counts = re.findall(r"the early path answered (\d+) calls before the SDK was wanted", early_log)
    assert counts[-1] == "1", early_log[-3000:]
    assert "left to the steady state" not in early_log
