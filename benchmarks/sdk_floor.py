"""The SDK's own floor: a minimal ``MCPServer`` over stdio with the bridge's ``get_operator``.

``python sdk_floor.py`` answers at once, with no I/O: what any Python MCP server on this SDK
pays per call before doing any work.  ``python sdk_floor.py --http URL`` makes the one HTTP
request a bridge must make (a plain ``httpx2.AsyncClient`` GET): the least any bridge built
on this SDK and httpx2 can cost.  No validation, retries, deadlines or logging.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import httpx2
from mcp.server import MCPServer

server: MCPServer[Any] = MCPServer(name="sdk-floor")
upstream: httpx2.AsyncClient | None = None


@server.tool()
async def get_operator(operatorId: int) -> dict[str, Any]:
    """The bridge's answer: fetched from ``--http URL`` if given, else built in place."""
    body: dict[str, Any] = {"name": "Telia Lietuva", "country": "LT", "mcc": "246", "mnc": ["01"]}
    if upstream is not None:
        response = await upstream.get(f"/operators/{operatorId}")
        response.raise_for_status()
        body = response.json()
    return {"operator_id": operatorId, **body}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        upstream = httpx2.AsyncClient(base_url=sys.argv[2], headers={"X-VertexSMS-Token": "floor"})
    anyio.run(server.run_stdio_async)
