"""The 2026-07-28 ``server/discover`` probe, then either era, on one pipe of the real process
(``serve --sandbox`` and ``connect``: both run through mcpio/stdio.py).

Claude Code probes ``server/discover`` before ``initialize`` and sends ``initialize`` even after
a successful probe (field note 2026-12-07 §6, anthropics/claude-code#96183): both must be answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import DiscoverResult, InitializeResult
from stdio_server import INIT, Server

from bridge import process_env, rpc
from vertex_stdio import __version__

ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "2.1.280"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


# connect before any sign-in: its answers are its own (no remote is reached before a tool call);
# port 9 (discard) on loopback, so nothing leaves the machine even if it tried
COMMANDS = {"serve": ("serve", "--sandbox"), "connect": ("connect", "http://127.0.0.1:9/mcp")}


@pytest.fixture(params=sorted(COMMANDS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    proc = Server(process_env(tmp_path), tmp_path, COMMANDS[request.param])
    try:
        yield proc
    finally:
        proc.finish()


def _discovered(server: Server) -> dict[str, Any]:
    server.send(rpc("probe", "server/discover", {"_meta": ENVELOPE}))
    answer = server.answers({"probe"})["probe"]
    assert "result" in answer, (answer, server.diagnostics)
    result = answer["result"]
    DiscoverResult.model_validate(result)  # the SDK's own schema for the answer
    assert result["supportedVersions"] == ["2026-07-28"]
    assert "tools" in result["capabilities"]
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].startswith("vertex-stdio")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == __version__
    return result


@pytest.mark.slow
def test_discover_then_initialize_serves_the_handshake_era(server: Server) -> None:
    """The probe is answered, and the ``initialize`` after it opens a working 2025-11-25 session."""
    discovered = _discovered(server)
    server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
    init = server.answers({"init"})["init"]
    assert "result" in init, (init, server.diagnostics)
    assert InitializeResult.model_validate(init["result"]).protocol_version == "2025-11-25"
    assert init["result"]["serverInfo"] == discovered["_meta"]["io.modelcontextprotocol/serverInfo"]
    server.send(rpc("after-init", "tools/list"))
    assert server.answers({"after-init"})["after-init"]["result"]["tools"]
    server.close_stdin()
    assert server.proc.returncode == 0


@pytest.mark.slow
def test_discover_then_enveloped_requests_serve_the_2026_era(server: Server) -> None:
    """A modern client that keeps to 2026-07-28 after the probe is served too."""
    first = _discovered(server)
    server.send(rpc("list", "tools/list", {"_meta": ENVELOPE}))
    answer = server.answers({"list"})["list"]
    assert answer["result"]["tools"], answer
    # a second probe, now inside the 2026 session, is the SDK's own answer; it agrees on the
    # versions and the version (for connect the SDK names the server itself, not by its options)
    server.send(rpc("again", "server/discover", {"_meta": ENVELOPE}))
    again = server.answers({"again"})["again"]["result"]
    assert again["supportedVersions"] == ["2026-07-28"]
    key = "io.modelcontextprotocol/serverInfo"
    assert again["_meta"][key]["version"] == first["_meta"][key]["version"] == __version__
    server.close_stdin()
