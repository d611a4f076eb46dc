"""What a remote MCP server received: an ASGI wrapper noting each POST (method, params with
``_meta``, the MCP headers, its session) and each DELETE, in order, before the app answers it."""

from __future__ import annotations

from typing import Any

from asgi_body import json_object, read_body, replaying

MCP_HEADERS = ("mcp-protocol-version", "mcp-method", "mcp-name", "accept", "content-type")


class Received:
    """``app`` with every POST and DELETE noted in ``seen`` (a dict per request)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "DELETE"):
            await self._app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = await read_body(receive) if scope["method"] == "POST" else b""
        message = json_object(body)
        self.seen.append(
            {
                "http": scope["method"],
                "method": message.get("method"),
                "params": message.get("params"),
                "headers": {k: headers[k] for k in MCP_HEADERS if k in headers},
                "session": headers.get("mcp-session-id"),
                "answer": "id" in message and "method" not in message,
            }
        )
        await self._app(scope, replaying(body, receive) if body else receive, send)

    def requests(self, method: str) -> list[dict[str, Any]]:
        """The POSTs of ``method``, as received."""
        return [s for s in self.seen if s["http"] == "POST" and s["method"] == method]
