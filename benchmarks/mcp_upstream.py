"""A loopback Streamable HTTP MCP server for the hosted path, run as its own process.

The SDK's ``MCPServer`` with its defaults (sessions with an ``Mcp-Session-Id``, answers as
event streams; ``--json`` for plain JSON answers), serving the sandbox's own
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

from vertex_stdio.vertexsms.sandbox.hosted import correct_phone_number


def build(json_response: bool) -> Any:
    server: MCPServer[Any] = MCPServer(name="bench-hosted")
    server.add_tool(correct_phone_number, structured_output=True)
    return server.streamable_http_app(streamable_http_path="/mcp", json_response=json_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="answer with JSON bodies, not event streams")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets (no 40 ms stalls)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(
        build(args.json), log_level="warning", lifespan="on", access_log=False, http="h11", ws="none"
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
