"""The lean call path's process set-up, shared by its tests: a scripted hosted server and a real
``vertex-stdio`` serving with a pasted API token against it (so the early path is on)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hosted_script import TOKEN, HostedScript
from loopback import serve_in_thread
from stdio_server import Server

from bridge import process_env, rpc


@dataclass(frozen=True)
class Hosted:
    url: str  # its MCP endpoint
    script: HostedScript


@contextmanager
def hosted_server() -> Iterator[Hosted]:
    """``HostedScript`` on a loopback port; its held answers are released when the block ends."""
    script = HostedScript()
    with serve_in_thread(script) as url:
        try:
            yield Hosted(url + "/mcp", script)
        finally:
            script.release.set()


def lean_env(home: Path, url: str, **extra: str) -> dict[str, str]:
    """The process's environment: hosted calls to ``url``, REST ones beside it (so they stay on
    this machine too), the token pasted, debug log (where the lean path's counts are written)."""
    settings = {
        "VERTEXSMS_MCP_URL": url,
        "VERTEXSMS_API_URL": url.removesuffix("/mcp"),
        "VERTEXSMS_API_TOKEN": TOKEN,
        "VERTEXSMS_LOG_LEVEL": "DEBUG",
    }
    return process_env(home, **{**settings, **extra})


@contextmanager
def lean_server(home: Path, url: str, *, reading: bool = True, **extra: str) -> Iterator[Server]:
    """A real process on ``lean_env``; at the end it is killed if still running and its stdout is
    checked to be pure JSON-RPC (``Server.finish``)."""
    server = Server(lean_env(home, url, **extra), home, reading=reading)
    try:
        yield server
    finally:
        server.finish()


def opening(version: str = "2025-11-25") -> bytes:
    """``initialize`` (id "init") and ``notifications/initialized``: the session the lean path opens on."""
    init = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    return rpc("init", "initialize", init) + rpc(None, "notifications/initialized")


def call(id_: Any, name: str, arguments: Any) -> bytes:
    """One plain ``tools/call`` line: the shape the lean path takes."""
    return rpc(id_, "tools/call", {"name": name, "arguments": arguments})


def lean_counts(log: str) -> tuple[int, int]:
    """From the process's log: the lean calls it answered (before the SDK was loaded and after),
    and those it left to the SDK."""
    found = re.findall(r"the lean call path answered (\d+) calls and left (\d+) to the SDK", log)
    early = re.findall(r"the lean call path answered (\d+) calls before the SDK was wanted", log)
    assert found or early, log[-3000:]
    answered, left = (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)
    return answered + (int(early[-1]) if early else 0), left
