"""A remote MCP server shaped like Vocci MCP, for the ``connect`` tests (run as its own process).

``python remote_mcp.py ISSUER [PORT]`` serves Streamable HTTP on 127.0.0.1 at ``/mcp``: tools
``search``, ``fetch`` and ``context_pack`` (read-only; and ``slow``, which reports progress), a static "About" resource, a note
template, a prompt, and ``instructions``.  Every MCP request needs a Bearer token that the
authorization server ``ISSUER`` says is active (introspection); otherwise 401 with
``resource_metadata``.  The four discovery routes are served: protected-resource metadata at the
root and path-suffixed, and the authorization server's metadata at both RFC 8414 and OIDC routes
(copied from ``ISSUER``, which the protected-resource metadata names).
With ``ISSUER`` ``none`` there is no OAuth at all: no discovery routes, no Bearer check; with
``REMOTE_API_KEY`` set, every MCP request needs ``X-Api-Key`` with that value instead (else 401).
With ``REMOTE_LEGACY_SSE`` set it speaks the 2024-11-05 HTTP+SSE transport (``/sse``) instead.
With ``REMOTE_LEGACY_ERA=1`` it refuses ``server/discover`` (-32601), as a server of the 2025
spec: clients then ``initialize`` (and server-to-client requests are possible).
With ``REMOTE_ASK_TOOLS=1`` a tool ``ask`` sends the client a request of its own (ping, elicitation
in form or URL mode, sampling, roots) while the call is open and answers what came back.
If the file named by ``REMOTE_EXTRA_TOOL`` exists at start, a fourth tool ``extra`` is offered.
With ``REMOTE_TLS_CERT`` and ``REMOTE_TLS_KEY`` (PEM files) it serves HTTPS (its metadata names https URLs).
``REMOTE_LOG`` receives one line per MCP request (method, or ``401``); without OAuth, one per
``tools/call`` that reached it (``received <what>``, its ``what`` or ``query``, else the tool's
name), whatever it was answered.  Prints ``READY <port>``.

For the bounds and calm of ``connect``:
- With ``REMOTE_CALM_TOOLS=1``, two more tools: ``act``, not read-only (it notes ``acted <what>``
  in ``REMOTE_LOG``), and ``storm``, which sends ``count`` tools ``list_changed`` notifications.
- While the file named by ``REMOTE_REFUSE`` exists, every MCP request is answered 401 whatever its
  token, a ``tools/call`` only after acting on it (``acted <what>``), as a remote that changed its
  mind about the sign-in might.
- While the file named by ``REMOTE_DROP`` exists, a signed-in ``tools/call`` is acted on
  (``acted <what>``) and then the process exits without answering, as a remote that crashed.
- While the file named by ``REMOTE_HOLD`` exists, a ``tools/call`` that reached it (``received``)
  waits there before it is run (without OAuth), so a test can break connections with calls in flight.
- ``REMOTE_LISTEN_FD``: serve on this inherited listening socket (its port) instead of binding one;
  the test holds it, so it keeps listening while this process is replaced by another.
- ``REMOTE_TOOLS_BYTES=N``: ``tools/list`` is answered by this wrapper, as JSON streamed in chunks,
  with about N bytes of tools; with ``REMOTE_TOOLS_PAGES=P``, N bytes on each of P pages.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from asgi_body import json_answer, json_object, read_body, replaying
from client_asks import PING, ROOTS, Ask, form, sampling
from mcp import MCPError, types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
INSTRUCTIONS = "Vocci-like test server: search the person's notes, fetch one, or build a context pack."


def _note(line: str) -> None:
    log = os.environ.get("REMOTE_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(line + "\n")


def build(issuer: str) -> MCPServer:
    mcp = MCPServer("vocci-test", version="9.9.9", instructions=INSTRUCTIONS)

    @mcp.tool(annotations=READ_ONLY, meta={"vocci/kind": "search"})
    async def search(query: str, limit: int = 10) -> dict[str, Any]:
        """Search notes, files, summaries, transcripts and sessions."""
        if query == "fail":
            raise ToolError("the search index is offline")
        return {"results": [{"id": "note-1", "title": f"About {query}"}][:limit]}

    @mcp.tool(annotations=READ_ONLY)
    async def fetch(id: str, include_content: bool = False) -> dict[str, Any]:
        """Fetch one item by id."""
        return {"id": id, "contentIncluded": include_content, "content": "hello" if include_content else None}

    @mcp.tool(annotations=READ_ONLY)
    async def context_pack(query: str) -> str:
        """A compact context pack for a question."""
        return f"pack for {query}"

    if os.environ.get("REMOTE_CALM_TOOLS") == "1":
        calm_tools(mcp)
    if os.environ.get("REMOTE_ASK_TOOLS") == "1":
        ask_tools(mcp)

    @mcp.tool(annotations=READ_ONLY)
    async def slow(seconds: float, ctx: Context) -> str:
        """Reports progress, then waits; notes in REMOTE_LOG when it is cancelled."""
        await ctx.report_progress(0.5, 1.0, "halfway")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            _note("cancelled slow")
            raise
        return "done"

    if Path(os.environ.get("REMOTE_EXTRA_TOOL", "/nonexistent")).exists():

        @mcp.tool(annotations=READ_ONLY)
        async def extra() -> str:
            """A tool that appears later."""
            return "extra"

    @mcp.resource("vocci://about", name="about", mime_type="text/plain")
    def about() -> str:
        return "About Vocci (test)"

    @mcp.resource("vocci://notes/{note_id}", name="note")
    def note(note_id: str) -> str:
        return f"note {note_id}"

    @mcp.prompt()
    def summarize(topic: str) -> str:
        """Summarize what the notes say about a topic."""
        return f"Summarize my notes about {topic}."

    return mcp


def calm_tools(mcp: MCPServer) -> None:
    @mcp.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
    async def act(what: str) -> str:
        """Does something that cannot be undone (a test stand-in for a billable call)."""
        _note(f"acted {what}")
        return f"did {what}"

    @mcp.tool(annotations=READ_ONLY)
    async def storm(count: int, ctx: Context) -> str:
        """Sends ``count`` tools list_changed notifications, in either protocol era."""
        for _ in range(count):
            await ctx.notify_tools_changed()
            await ctx.session.send_tool_list_changed()
        return f"sent {count}"


ASKS: dict[str, Ask] = {
    "ping": PING,
    "form": form("Your name?", {"type": "object", "properties": {"name": {"type": "string"}}}),
    "url": (
        types.ElicitRequest(
            params=types.ElicitRequestURLParams(
                message="Connect your calendar", url="https://example.com/connect?x=1", elicitation_id="el-7"
            )
        ),
        types.ElicitResult,
    ),
    "sample": sampling("2+2?"),
    "roots": ROOTS,
}


def ask_tools(mcp: MCPServer) -> None:
    @mcp.tool(annotations=READ_ONLY)
    async def ask(what: str, ctx: Context) -> str:
        """Sends the client one request while this call is open (ping, form, url, sample, roots) and
        answers what came back: ``ok {result}`` or ``error CODE message``."""
        request, result = ASKS[what]
        related = ServerMessageMetadata(related_request_id=ctx.request_id)
        try:
            answer = await ctx.session.send_request(request, result, metadata=related)
        except MCPError as exc:
            return f"error {exc.error.code} {exc.error.message}"
        return "ok " + json.dumps(answer.model_dump(mode="json", by_alias=True, exclude_none=True))


class Guard:
    """ASGI wrapper: discovery routes, and a Bearer check (introspection) in front of /mcp."""

    def __init__(self, app: Any, issuer: str, port: int) -> None:
        self.app, self.issuer, self.port = app, issuer, port
        self.origin = f"{'https' if os.environ.get('REMOTE_TLS_CERT') else 'http'}://127.0.0.1:{port}"
        self.api_key = os.environ.get("REMOTE_API_KEY")
        if issuer != "none":
            self.as_metadata = httpx2.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if os.environ.get("REMOTE_LEGACY_ERA") == "1" and scope["method"] == "POST":
            body = await read_body(receive)
            message = json_object(body)
            if message.get("method") == "server/discover":  # a 2025-era server: initialize instead
                error = {"code": -32601, "message": "Method not found"}
                return await json_answer(
                    send, 200, {"jsonrpc": "2.0", "id": message.get("id"), "error": error}
                )
            receive = replaying(body, receive)
        if self.issuer == "none":
            return await self._keyed(scope, receive, send)
        path = scope["path"]
        prm = {"resource": f"{self.origin}/mcp", "authorization_servers": [self.issuer]}
        routes = {
            "/.well-known/oauth-protected-resource": prm,
            "/.well-known/oauth-protected-resource/mcp": prm,
            "/.well-known/oauth-authorization-server": self.as_metadata,
            "/.well-known/openid-configuration": self.as_metadata,
        }
        if path in routes:
            return await json_answer(send, 200, routes[path])
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode()
        body = await read_body(receive) if scope["method"] == "POST" else b""
        message = json_object(body)
        refuse = Path(os.environ.get("REMOTE_REFUSE", "/nonexistent")).exists()
        if refuse and message.get("method") == "tools/call":
            params = message.get("params") or {}
            _note(f"acted {(params.get('arguments') or {}).get('what') or params.get('name')}")
        if refuse or not auth.startswith("Bearer ") or not self._active(auth[7:]):
            _note("401")
            challenge = f'Bearer resource_metadata="{self.origin}/.well-known/oauth-protected-resource/mcp"'
            return await json_answer(
                send, 401, {"error": "unauthorized"}, [(b"www-authenticate", challenge.encode())]
            )
        if isinstance(message.get("method"), str):
            _note(message["method"])
        dropping = Path(os.environ.get("REMOTE_DROP", "/nonexistent")).exists()
        if dropping and message.get("method") == "tools/call":
            params = message.get("params") or {}
            _note(f"acted {(params.get('arguments') or {}).get('what') or params.get('name')}")
            os._exit(3)  # the connection drops with the call acted on and unanswered
        if message.get("method") == "tools/list" and os.environ.get("REMOTE_TOOLS_BYTES"):
            return await _big_tools(send, message)
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        return await self.app(scope, replaying(body, receive), send)

    async def _keyed(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """No OAuth: served as is, or only with the right ``X-Api-Key`` when one is set."""
        given = dict(scope["headers"]).get(b"x-api-key", b"").decode()
        if self.api_key is not None and given != self.api_key:
            _note("401")
            return await json_answer(send, 401, {"error": "api key required"})
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        body = await read_body(receive)
        message = json_object(body)
        params = message.get("params")
        if message.get("method") == "tools/call" and isinstance(params, dict):
            arguments = params.get("arguments") or {}
            _note(f"received {arguments.get('what') or arguments.get('query') or params.get('name')}")
            hold = Path(os.environ.get("REMOTE_HOLD", "/nonexistent"))
            while hold.exists():  # the test says when, by removing the file
                await anyio.sleep(0.02)
        return await self.app(scope, replaying(body, receive), send)

    def _active(self, token: str) -> bool:
        answer = httpx2.post(
            f"{self.issuer}/token/introspection",
            data={"token": token},
            auth=("introspector", "introspector-secret"),
            timeout=10,
        ).json()
        return bool(answer.get("active"))


async def _big_tools(send: Any, message: dict[str, Any]) -> None:
    """A ``tools/list`` page of about ``REMOTE_TOOLS_BYTES`` bytes, streamed in 64 KiB tools."""
    total = int(os.environ["REMOTE_TOOLS_BYTES"])
    pages = int(os.environ.get("REMOTE_TOOLS_PAGES", "1"))
    cursor = (message.get("params") or {}).get("cursor") or "page-0"
    page = int(str(cursor).split("-")[1])
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    head = json.dumps({"jsonrpc": "2.0", "id": message.get("id")})[:-1] + ',"result":{"tools":['
    await send({"type": "http.response.body", "body": head.encode(), "more_body": True})
    filler = "x" * 65_000
    for index in range(max(1, total // 65_100)):
        tool = {"name": f"t{page}_{index}", "description": filler, "inputSchema": {"type": "object"}}
        chunk = ("," if index else "") + json.dumps(tool)
        await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
    more = f',"nextCursor":"page-{page + 1}"' if page + 1 < pages else ""
    more += ',"resultType":"complete","cacheScope":"private","ttlMs":0'  # required in the 2026-07-28 era
    await send({"type": "http.response.body", "body": f"]{more}}}}}".encode(), "more_body": False})


def main() -> None:
    issuer = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    import socket

    inherited = os.environ.get("REMOTE_LISTEN_FD")
    if inherited is not None:  # already listening, held by the test across this process's restarts
        sock = socket.socket(fileno=int(inherited))
    else:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # before READY: a connection made at once then waits instead of being refused
    port = sock.getsockname()[1]
    server = build(issuer)
    # REMOTE_LEGACY_SSE: the 2024-11-05 HTTP+SSE transport (GET /sse, POST /messages/) instead.
    inner = server.sse_app() if os.environ.get("REMOTE_LEGACY_SSE") else server.streamable_http_app()
    app = Guard(inner, issuer, port)
    cert, key = os.environ.get("REMOTE_TLS_CERT"), os.environ.get("REMOTE_TLS_KEY")
    tls = {"ssl_certfile": cert, "ssl_keyfile": key} if cert and key else {}
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **tls)
    server = uvicorn.Server(config)
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
