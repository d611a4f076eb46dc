"""``connect``'s first calls to a 2025 server answering in JSON whose tool asks the client something
mid-call: the request comes on the session's own event stream (a GET), not the call's answer.

The early path (before the SDK is loaded) and the lean path right after the link's connection
opens each send their call on a session whose event stream they (or the SDK client) have just
asked for; had the call reached the server before that stream was open, the server's ping (or
``roots/list``) would have nowhere to go (the SDK's server keeps no events: dropped), and the
tool would wait for its answer until the call timed out.  The remote takes each GET a moment
late (``hold_get``: a server slower to open that stream than to take a POST), so a call that does
not wait for the stream loses that race every time, instead of now and then.

Fresh processes, each: an ``act`` that pings and a ``look`` that asks ``roots/list`` in one write
(the early path), then a ``look`` that pings (the lean path, on the link's new connection) --
against the same from ``VERTEX_STDIO_LEAN_CALLS=0`` (the SDK client's path, the remote taking its
GETs at once): the same bytes, each call received once, the same answers to the server's requests.
In-process, the lean path's and the link path's (the SDK client's) first call on a link that has
no connection yet (it opens one and sends at once): answered, received once, the ping answered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connect_script import Script
from link_pair import lean_beside, lean_call, link_call, linked
from loopback import serve_in_thread
from received import Received
from stdio_server import INIT, Server
from test_connect_early_calls import cached

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

TIMEOUT = 8  # seconds (VERTEXSMS_HTTP_TIMEOUT): a lost request shows as this wait, then a failure
PROCESSES = 3  # fresh processes per path
HOLD = 0.3  # seconds the remote waits before it takes a GET (the calls wait up to STREAM_WAIT, 3 s)


def _call(id_: str, name: str, how: str) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": {"how": how}},
    }
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


FIRST = [_call("a-ping", "act", "ping"), _call("r-roots", "look", "roots")]
AFTER = _call("r-ping", "look", "ping")


def _process(home: Path, url: str, lean: str) -> Server:
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT=str(TIMEOUT),
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    server = Server(env, home, ("connect", url))
    server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
    server.send(rpc("list", "tools/list"))
    assert "result" in server.answers({"list"}, timeout=30)["list"]
    return server


def _run(home: Path, url: str, lean: str) -> tuple[dict[str, str], str]:
    """A fresh process: the first calls in one write, then the next one; each answer line by id."""
    server = _process(home, url, lean)
    try:
        start = len(server.raw)
        server.send(b"".join(FIRST))
        assert {"a-ping", "r-roots"} <= server.answers({"a-ping", "r-roots"}, timeout=60).keys()
        server.send(AFTER)
        assert "r-ping" in server.answers({"r-ping"}, timeout=60)
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        lines = bytes(server.raw[start:]).splitlines()
        found = {json.loads(line).get("id"): line.decode() for line in lines}
        return {k: v for k, v in found.items() if k is not None}, server.diagnostics
    finally:
        server.finish()


def test_a_first_call_the_server_pings_on_its_own_stream_is_answered(tmp_path: Path) -> None:
    scripts = {
        lean: Script(json_response=True, era="2025", hold_get=HOLD if lean == "1" else 0.0) for lean in "10"
    }
    received = {lean: Received(script) for lean, script in scripts.items()}
    with serve_in_thread(received["1"]) as early, serve_in_thread(received["0"]) as off:
        urls = {"1": f"{early}/mcp", "0": f"{off}/mcp"}
        for lean, url in urls.items():
            cached(tmp_path / lean, url, _process)
        for run in range(PROCESSES):
            answers, asked = {}, {}
            for lean, url in urls.items():
                scripts[lean].seen.clear()
                scripts[lean].answers.clear()
                answers[lean], log = _run(tmp_path / lean, url, lean)
                seen = dict(scripts[lean].seen)
                assert seen == {"act:ping": 1, "look:roots": 1, "look:ping": 1}, (run, lean, log[-3000:])
                asked[lean] = sorted(
                    repr({k: v for k, v in a.items() if k != "id"}) for a in scripts[lean].answers
                )
            assert answers["1"] == answers["0"], run
            assert asked["1"] == asked["0"], run
            assert '"isError":false' in answers["1"]["a-ping"].replace(" ", ""), answers["1"]["a-ping"]
            assert "List roots not supported" in answers["1"]["r-roots"]


@pytest.mark.parametrize("path", ["lean", "link"])
@pytest.mark.anyio
async def test_a_call_right_after_its_connection_opens_gets_the_servers_ping(path: str) -> None:
    """No connection yet: the lean path opens it, then sends; the link path's SDK client starts its
    GET with ``notifications/initialized`` and waits for nothing, so the link waits for it (bounded)
    before a request on a connection that just opened."""
    script = Script(json_response=True, era="2025", hold_get=HOLD)
    with serve_in_thread(script) as base:
        url = f"{base}/mcp"
        async with linked(url, timeout=TIMEOUT) as link:
            if path == "lean":
                result = await lean_call(lean_beside(link, url, timeout=TIMEOUT), "look", {"how": "ping"})
            else:
                result = await link_call(link, "look", {"how": "ping"})
    assert result == {"content": [{"type": "text", "text": "done: ping"}], "isError": False}, result
    assert dict(script.seen) == {"look:ping": 1}
    assert [{k: v for k, v in a.items() if k != "id"} for a in script.answers] == [
        {"jsonrpc": "2.0", "result": {}}
    ]
