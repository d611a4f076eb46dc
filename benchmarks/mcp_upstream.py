"""A loopback Streamable HTTP MCP server for the hosted path, run as its own process.

The SDK's ``MCPServer`` with its defaults (sessions with an ``Mcp-Session-Id``, answers as
event streams; ``--json`` for plain JSON answers; ``--era 2025`` for a server that only speaks
the 2025 versions), serving the sandbox's own
``correct_phone_number`` (the tool the bridge forwards).  Every bridge in the hosted
section talks to this one server.  Its own process, so its per-request work stays out of the
client's timings.  Accepts any bearer token.

Protocol: prints ``PORT`` on its first stdout line; end of stdin stops it.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND

from vertex_stdio.vertexsms.sandbox.hostedtools import correct_phone_number


async def without_discover(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Answer ``server/discover`` as a server of the 2025 versions does (one that has no such
    method: the runner's own -32601 for a method with no handler), so every client opens its
    session with ``initialize`` at a 2025 version; every other request as before."""
    if ctx.method == "server/discover":
        raise MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=ctx.method)
    return await call_next(ctx)


def build(json_response: bool, era: str = "2026") -> Any:
    middleware = [without_discover] if era == "2025" else []
    server: MCPServer[Any] = MCPServer(name="bench-hosted", middleware=middleware)
    server.add_tool(correct_phone_number, structured_output=True)
    return server.streamable_http_app(streamable_http_path="/mcp", json_response=json_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="answer with JSON bodies, not event streams")
    parser.add_argument(
        "--era",
        choices=["2026", "2025"],
        default="2026",
        help="2026: also serve 2026-07-28 sessions (the SDK's default); 2025: only the 2025 versions",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets (no 40 ms stalls)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(
        build(args.json, args.era),
        log_level="warning",
        lifespan="on",
        access_log=False,
        http="h11",
        ws="none",
    )
    server = uvicorn.Server(config)

    def stop_on_eof() -> None:
        while os.read(0, 65536):
            pass
        server.should_exit = True

    threading.Thread(target=stop_on_eof, daemon=True).start()
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
