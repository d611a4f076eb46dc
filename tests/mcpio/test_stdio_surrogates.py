"""A lone surrogate escape (``\\ud800``) on a stdin line, through the real process, ``serve`` and
``connect``: valid JSON whose string is not Unicode, so it can be neither validated by the SDK nor
written back. Wherever it is (the id, the method, a key, params, a tool's argument), the line is
answered with ``-32600`` -- with its id when that is writable, else with ``id: null`` -- it goes no
further, and the session goes on: the next request is answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connect_script import Script
from loopback import serve_in_thread
from stdio_server import INIT, Server

from bridge import emulator_env, process_env, rpc
from vertex_stdio.mcpio.checks import check_line
from vertex_stdio.mcpio.lines import LineSplitter, Rejected
from vertex_stdio.vertexsms.sandbox import Emulator

FIRST = b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}\n'  # before initialize: the lean front's
TOOL = {  # a tool's argument: the lean call paths leave such a line to the SDK's
    "serve": b'"get_operator","arguments":{"number":"\\ud800"}',
    "connect": b'"echo","arguments":{"value":"\\udfff"}',
}
BAD_ID = b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"'
BAD: list[tuple[str, bytes, Any]] = [  # (case, line, the id of its answer)
    ("id", BAD_ID + b"}\n", None),
    ("id-low-half", b'{"jsonrpc":"2.0","id":"a\\uDC00b","method":"tools/list"}\n', None),
    ("method", b'{"jsonrpc":"2.0","id":"method","method":"pi\\ud800ng"}\n', "method"),
    ("params", b'{"jsonrpc":"2.0","id":"params","method":"ping","params":{"x":"\\ud800"}}\n', "params"),
    ("key", b'{"jsonrpc":"2.0","id":"key","method":"ping","params":{"\\ud800":1}}\n', "key"),
    ("huge-number", BAD_ID + b',"params":{"n":' + b"9" * 4400 + b"}}\n", None),
    ("not-utf8", BAD_ID + b',"params":{"x":"\xff"}}\n', None),
    ("oversized", BAD_ID + b',"params":{"x":"' + b"x" * 4_300_000 + b'"}}\n', None),
]


@pytest.fixture
def session(
    request: pytest.FixtureRequest, emulator: Emulator, tmp_path: Path
) -> Iterator[tuple[str, Server]]:
    how: str = request.param
    if how == "serve":
        server = Server(emulator_env(tmp_path, emulator, VERTEXSMS_HTTP_TIMEOUT="3"), tmp_path)
        try:
            yield how, server
        finally:
            server.finish()
        return
    with serve_in_thread(Script()) as url:
        env = process_env(tmp_path, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEXSMS_HTTP_TIMEOUT="3")
        server = Server(env, tmp_path, ("connect", f"{url}/mcp"))
        try:
            yield how, server
        finally:
            server.finish()


def _refused(server: Server, start: int) -> list[dict[str, Any]]:
    return [m for m in server.messages[start:] if "error" in m]


@pytest.mark.parametrize(("case", "line", "id_"), BAD, ids=[case for case, _, _ in BAD])
def test_check_line_refuses_it_with_an_id_it_can_write(case: str, line: bytes, id_: Any) -> None:
    """In process: each line, whole or as an oversized line's start, is refused, never with an id
    that cannot be written back (which ended the session: the writer raised)."""
    checked = check_line(line) if case != "oversized" else LineSplitter(1_000_000).feed(line)[0]
    assert isinstance(checked, Rejected), case
    assert checked.id == id_
    assert case in {"not-utf8", "oversized"} or "lone surrogate" in checked.message


@pytest.mark.slow
@pytest.mark.parametrize("session", ["serve", "connect"], indirect=True)
def test_a_lone_surrogate_is_refused_and_the_session_goes_on(session: tuple[str, Server]) -> None:
    how, server = session
    # the first line, read by the lean front, then the opening and calls together (connect's early loop)
    tool = b'{"jsonrpc":"2.0","id":"tool","method":"tools/call","params":{"name":' + TOOL[how] + b"}}\n"
    server.send(FIRST + rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized") + tool)
    found = server.answers({None, "init", "tool"}, timeout=30)
    assert "result" in found["init"], server.diagnostics
    assert found[None]["error"]["code"] == -32600, found[None]
    assert found["tool"]["error"]["code"] == -32600
    assert "surrogate" in found["tool"]["error"]["message"]
    for number, (case, line, id_) in enumerate(BAD):
        start, probe = len(server.messages), f"ping-{number}"
        server.send(line + rpc(probe, "ping"))
        found = server.answers({probe, id_}, timeout=30)
        assert "result" in found[probe], (case, server.diagnostics)
        refused = _refused(server, start)
        code = -32700 if case == "not-utf8" else -32600
        assert [(m["id"], m["error"]["code"]) for m in refused] == [(id_, code)], (case, refused)
        assert case in {"not-utf8", "oversized"} or "lone surrogate" in refused[0]["error"]["message"]
    server.send(rpc("after", "tools/list"))
    assert "result" in server.answers({"after"})["after"]
    assert server.close_stdin() < 15
    assert server.proc.returncode == 0, server.diagnostics
    assert "Traceback" not in server.diagnostics
    assert "PydanticSerializationError" not in server.diagnostics
