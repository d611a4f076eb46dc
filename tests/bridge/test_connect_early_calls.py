"""``connect``'s first calls, sent before the SDK is loaded: the link path's answers, byte for byte.

Two fresh ``vertex-stdio connect`` processes with a cached offer (the lean front answers the
opening) against the SDK's own Streamable HTTP server (``connect_script``), one with the early
path and one with ``VERTEX_STDIO_LEAN_CALLS=0`` (the link path only).  Right after ``tools/list``
both get the same first calls in one write -- every failure the script can make, on a tool that
is not read-only and on one that is -- so the early process runs them all before its SDK is
loaded.  The answers must be the same bytes, the remote must have received the same calls (method,
params with ``_meta``, the MCP headers) and the same answers to its own requests mid-call, a call
that is not read-only must have reached it once, and the early path must have answered the plain
successes itself (its log says so) while the SDK was not imported.  Both eras: the server as it
is (2026-07-28, stateless) and refusing ``server/discover`` (a 2025 session with an id), where the
early session must be ended (DELETE) before the link opens its own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connect_script import Script
from loopback import serve_in_thread
from received import Received
from stdio_server import INIT, Server

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

HOWS = (
    "ok", "structured", "tool-error", "log", "ping", "big", "rpc-error", "rpc-error-null-data",
    "rpc-error-400", "rpc-error-closed", "500", "503", "404", "202", "text", "sse-unanswered",
    "asks", "drop", "slow",
)  # fmt: skip
# answered by the early path itself: a plain result (the rest have a failure, a notification
# mid-call or an answer too large: their outcome is worded by the steady state; the script's own
# result for "asks" has no ``resultType``, which 2026-07-28 requires)
EARLY = {
    "modern": ("ok", "structured", "tool-error", "ping"),
    "legacy": ("ok", "structured", "tool-error", "ping", "asks"),
}
# a read-only call whose connection broke or whose session the remote ended (404) is left whole: the
# steady state sends it again on the link, whose answer races its other requests (the background
# refresh of the lists): not in the batch
BROKEN = ("drop", "sse-unanswered", "slow", "404")
PIPE_BUF = 4096  # a write up to this size reaches the process whole: every first call in one read
TIMEOUT = 8  # seconds (VERTEXSMS_HTTP_TIMEOUT)
OPENING = ("server/discover", "initialize", "notifications/initialized")
DECLARING = {**INIT, "capabilities": {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}}


def _call(id_: Any, name: str, arguments: Any) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _cases(hows: tuple[str, ...] = HOWS) -> list[bytes]:
    lines = [_call(f"a-{how}", "act", {"how": how}) for how in hows]
    lines += [_call(f"r-{how}", "look", {"how": how}) for how in hows if how not in BROKEN]
    lines += [_call(7, "echo", {"value": ["ü🙂 \u2028", 1.5, None]})]
    assert len(b"".join(lines)) <= PIPE_BUF
    return lines


class Remote:
    """The script behind a recorder, at one URL for the whole test (the cached offer is this URL's)."""

    def __init__(self, kind: str, era: str) -> None:
        # every first call at once, on a shared machine: a timeout well above their time, "slow" above it
        self.script = Script(
            json_response=kind == "json", era="2025" if era == "legacy" else None, slow=TIMEOUT + 4
        )
        self.received = Received(self.script)
        self.era = era
        self.url = ""

    def forget(self) -> None:
        self.script.seen.clear()
        self.script.answers.clear()
        self.received.seen.clear()


@pytest.fixture(params=[("sse", "modern"), ("json", "legacy")], ids=["sse-modern", "json-legacy"])
def remotes(request: pytest.FixtureRequest) -> Iterator[tuple[Remote, Remote]]:
    kind, era = request.param
    early, off = Remote(kind, era), Remote(kind, era)
    with serve_in_thread(early.received) as one, serve_in_thread(off.received) as two:
        early.url, off.url = f"{one}/mcp", f"{two}/mcp"
        yield early, off


def _opened(home: Path, url: str, lean: str, init: dict[str, Any] = INIT) -> Server:
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT=str(TIMEOUT),
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    server = Server(env, home, ("connect", url, "--max-answer-mib", "0.1"))
    server.send(rpc("init", "initialize", init) + rpc(None, "notifications/initialized"))
    server.send(rpc("list", "tools/list"))
    assert "result" in server.answers({"list"}, timeout=30)["list"]
    return server


Opener = Callable[[Path, str, str], Server]
"""Starts ``connect`` for (home, url, lean) and answers its opening and ``tools/list``."""


def cached(home: Path, url: str, opened: Opener = _opened) -> None:
    """Two runs: the first caches the offer, the second the SDK's answers for it (the lean front's)."""
    home.mkdir(exist_ok=True)
    for _ in range(2):
        server = opened(home, url, "1")
        try:
            assert server.close_stdin() < 15
        finally:
            server.finish()


def first_calls(
    home: Path,
    url: str,
    lean: str,
    lines: list[bytes],
    *,
    at_once: bool,
    init: dict[str, Any] = INIT,
    opened: Opener | None = None,
) -> tuple[list[bytes], str]:
    """A fresh process (``opened``, else this file's, with ``init``): the opening and the list, then
    ``lines`` (in one write ``at_once``, else each once the one before was answered), then one more
    call; stdout after the list's answer, and the log."""
    server = opened(home, url, lean) if opened is not None else _opened(home, url, lean, init)
    try:
        start = len(server.raw)
        for batch in [lines] if at_once else [[line] for line in lines]:
            server.send(b"".join(batch))
            ids = {json.loads(line)["id"] for line in batch}
            assert ids <= server.answers(ids, timeout=60).keys()
        if lean == "1":  # the early path has ended: the link's session opens for the next call
            _logged(server, "the early path answered")
        server.send(_call("after", "echo", {"value": "after"}))
        assert "result" in server.answers({"after"}, timeout=30)["after"]
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        return bytes(server.raw[start:]).splitlines(), server.diagnostics
    finally:
        server.finish()


def _logged(server: Server, words: str) -> None:
    """Wait (bounded) until the process has logged ``words``."""
    ends = time.monotonic() + 30
    while words not in server.diagnostics:
        assert time.monotonic() < ends, server.diagnostics[-3000:]
        time.sleep(0.05)


def _same(early: list[bytes], off: list[bytes]) -> None:
    """The same answer, byte for byte, to every id; the same notifications."""

    def answers(lines: list[bytes]) -> dict[str, str]:
        found = [(json.dumps(json.loads(line).get("id")), line.decode()) for line in lines]
        return {key: line for key, line in found if key != "null"}

    def notifications(lines: list[bytes]) -> list[str]:
        return sorted(line.decode() for line in lines if "id" not in json.loads(line))

    mine, theirs = answers(early), answers(off)
    assert mine.keys() == theirs.keys()
    for key, line in mine.items():
        assert line == theirs[key], key
    assert notifications(early) == notifications(off)


def _requests(remote: Remote, methods: tuple[str, ...]) -> set[str]:
    """What the remote received of ``methods`` (method, params with ``_meta``, MCP headers, whether in a session)."""
    return {
        json.dumps([s["method"], s["params"], s["headers"], s["session"] is not None], sort_keys=True)
        for s in remote.received.seen
        if s["http"] == "POST" and s["method"] in methods
    }


def _asked(remote: Remote) -> list[str]:
    """The answers to the remote's own requests mid-call (without their ids: the server numbers
    its pings in the order the calls beside each other reach it)."""
    return sorted(repr({k: v for k, v in answer.items() if k != "id"}) for answer in remote.script.answers)


def _early_answered(log: str) -> int:
    found = re.findall(r"the early path answered (\d+) calls before the SDK was wanted", log)
    assert found, log[-3000:]
    return int(found[-1])


@pytest.mark.parametrize("init", [INIT, DECLARING], ids=["declares-nothing", "declares-all"])
def test_first_calls_get_the_link_paths_bytes_and_reach_the_remote_alike(
    tmp_path: Path, remotes: tuple[Remote, Remote], init: dict[str, Any]
) -> None:
    early_remote, off_remote = remotes
    for name, remote in (("early", early_remote), ("off", off_remote)):
        cached(tmp_path / name, remote.url)
        remote.forget()
    # a declaring client on a 2025 session: the remote's roots/list mid-call ("asks") is relayed to
    # this client, which does not answer it (tests/bridge/test_connect_early_relay.py and
    # test_connect_lean_calls.py have the dialogues)
    relays = init is DECLARING and early_remote.era == "legacy"
    hows = tuple(how for how in HOWS if not (relays and how == "asks"))
    lines = _cases(hows)
    # the link path drops its connection at most failures, failing the calls beside it: one at a time
    early, early_log = first_calls(tmp_path / "early", early_remote.url, "1", lines, at_once=True, init=init)
    off, off_log = first_calls(tmp_path / "off", off_remote.url, "0", lines, at_once=False, init=init)
    _same(early, off)
    assert _asked(early_remote) == _asked(off_remote)
    for how in hows:  # not read-only: reached the remote once, whatever happened
        assert early_remote.script.seen[f"act:{how}"] == off_remote.script.seen[f"act:{how}"] == 1, how
    # the plain successes were answered before the SDK was loaded; the others were worded after
    # at least (answering in JSON, a 2025 server may send a log message on the session's own
    # stream instead of the call's: that call is plain too)
    assert "the early path" not in off_log
    assert _requests(early_remote, ("tools/call",)) == _requests(off_remote, ("tools/call",))
    assert _requests(early_remote, OPENING) == _requests(off_remote, OPENING)
    plain = [how for how in EARLY[early_remote.era] if how in hows]
    assert _early_answered(early_log) >= 2 * len(plain) + 1
    unknown = {json.loads(line)["id"] for line in early if b'\\"outcome\\": \\"unknown\\"' in line}
    assert unknown == {"a-drop", "a-sse-unanswered", "a-rpc-error-closed", "a-slow"}


def test_a_stateful_remote_sees_the_early_session_end_before_the_links_opens(tmp_path: Path) -> None:
    """A 2025 server: the early session (its first calls) gets its DELETE before the link's SDK
    client opens a session of its own, so the server sees one session after another."""
    remote = Remote("sse", "legacy")
    with serve_in_thread(remote.received) as base:
        remote.url = f"{base}/mcp"
        cached(tmp_path / "home", remote.url)
        remote.forget()
        lines = [_call("a-ok", "act", {"how": "ok"}), _call("r-ok", "look", {"how": "ok"})]
        _, log = first_calls(tmp_path / "home", remote.url, "1", lines, at_once=True)
    assert _early_answered(log) == 2
    seen = remote.received.seen
    sessions = list(dict.fromkeys(s["session"] for s in seen if s["session"] is not None))
    assert len(sessions) >= 2, seen  # the early session, then the link's
    early, link = sessions[0], sessions[1]
    ended = next(i for i, s in enumerate(seen) if s["http"] == "DELETE" and s["session"] == early)
    assert ended < next(i for i, s in enumerate(seen) if s["session"] == link)
    assert [s["method"] for s in seen if s["session"] == early and s["http"] == "POST"] == [
        "notifications/initialized",
        "tools/call",
        "tools/call",
    ]


def test_a_read_whose_connection_broke_first_reaches_the_remote_at_most_twice(
    tmp_path: Path, remotes: tuple[Remote, Remote]
) -> None:
    """A read-only first call whose connection broke (or whose session got a 404) is left to the
    steady state, which sends it once more only: the remote receives it as often as from the link
    path alone (once, then once more), never a third time, and the answer is the same bytes."""
    early_remote, off_remote = remotes
    for name, remote in (("early", early_remote), ("off", off_remote)):
        cached(tmp_path / name, remote.url)
    for how in ("drop", "sse-unanswered", "404"):
        answers: list[list[bytes]] = []
        for name, remote, lean in (("early", early_remote, "1"), ("off", off_remote, "0")):
            remote.forget()
            out, log = first_calls(
                tmp_path / name, remote.url, lean, [_call("r", "look", {"how": how})], at_once=True
            )
            answers.append(out)
            assert remote.script.seen[f"look:{how}"] <= 2, (how, name, log[-3000:])
        assert early_remote.script.seen[f"look:{how}"] == off_remote.script.seen[f"look:{how}"], how
        _same(*answers)
