"""The 2026-07-28 ``server/discover`` probe, then either era, on one pipe of the real process.

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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    proc = Server(process_env(tmp_path), tmp_path, ("serve", "--sandbox"))
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
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "vertex-stdio"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == __version__
    return result


@pytest.mark.slow
def test_discover_then_initialize_serves_the_handshake_era(server: Server) -> None:
    """The probe is answered, and the ``initialize`` after it opens a working 2025-11-25 session."""
    _discovered(server)
    server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
    init = server.answers({"init"})["init"]
    assert "result" in init, (init, server.diagnostics)
    assert InitializeResult.model_validate(init["result"]).protocol_version == "2025-11-25"
    assert init["result"]["serverInfo"]["name"] == "vertex-stdio"
    assert server.tools_listed("after-init")
    server.close_stdin()
    assert server.proc.returncode == 0


@pytest.mark.slow
def test_discover_then_enveloped_requests_serve_the_2026_era(server: Server) -> None:
    """A modern client that keeps to 2026-07-28 after the probe is served too."""
    _discovered(server)
    server.send(rpc("list", "tools/list", {"_meta": ENVELOPE}))
    answer = server.answers({"list"})["list"]
    assert len(answer["result"]["tools"]) == 12, answer
    # a second probe, now inside the 2026 session, is the SDK's own answer, and agrees
    server.send(rpc("again", "server/discover", {"_meta": ENVELOPE}))
    again = server.answers({"again"})["again"]["result"]
    assert again["supportedVersions"] == ["2026-07-28"]
    assert again["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "vertex-stdio"
    server.close_stdin()
