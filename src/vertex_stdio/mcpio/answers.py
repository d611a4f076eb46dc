"""What the SDK itself answers to a session's messages: the source of the lean front's manifest.

``sdk_answers`` runs the SDK's own session loop (both eras, as ``serve_stdio`` runs it) over
memory streams, without the server's lifespan (no upstream, no network), and returns the
JSON-RPC answers as the wire would write them.  The manifest generator and the tests that
prove the lean front answers as the SDK does both use it.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.abc
from mcp.server import MCPServer, Server
from mcp.server.models import InitializationOptions
from mcp.server.runner import serve_dual_era_loop
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCRequest

from vertex_stdio.mcpio.checks import check_line
from vertex_stdio.mcpio.lines import Rejected


async def sdk_answers(
    server: MCPServer[Any] | Server[Any], lines: list[bytes], options: InitializationOptions | None = None
) -> list[dict[str, Any]]:
    """The answers (as JSON objects) to ``lines``, each checked as the wire checks it, in order.

    Every line that is a request is answered, by the wire (a malformed line) or by the SDK.
    """
    lowlevel = server._lowlevel_server if isinstance(server, MCPServer) else server
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](len(lines))
    to_client, answers = anyio.create_memory_object_stream[SessionMessage](len(lines) + 8)
    found: list[dict[str, Any]] = []
    init = options or lowlevel.create_initialization_options()
    with anyio.fail_after(30):
        async with from_client, to_client, answers, anyio.create_task_group() as tg:
            tg.start_soon(_loop, lowlevel, from_client, to_client, init)
            for line in lines:  # one at a time, so the answers come in the lines' order
                checked = check_line(line)
                if isinstance(checked, Rejected):
                    error = {"code": checked.code, "message": checked.message}
                    found.append({"jsonrpc": "2.0", "id": checked.id, "error": error})
                elif checked is not None:
                    await to_server.send(SessionMessage(checked))
                    if isinstance(checked, JSONRPCRequest):
                        message = (await answers.receive()).message
                        found.append(json.loads(message.model_dump_json(by_alias=True, exclude_unset=True)))
            await to_server.aclose()
    return found


def opening(version: str, *, tools: bool = True) -> list[bytes]:
    """A session's opening lines: ``initialize`` asking for ``version``, then (with ``tools``)
    ``initialized`` and ``tools/list``."""
    params = {
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "vertex-stdio-manifest", "version": "1"},
    }
    first = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode()
    if not tools:
        return [first]
    return [
        first,
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}',
    ]


async def _loop(
    lowlevel: Server[Any],
    from_client: anyio.abc.ObjectReceiveStream[SessionMessage | Exception],
    to_client: anyio.abc.ObjectSendStream[SessionMessage],
    init: InitializationOptions,
) -> None:
    await serve_dual_era_loop(lowlevel, from_client, to_client, lifespan_state=None, init_options=init)
