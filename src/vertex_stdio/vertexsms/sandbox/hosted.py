"""The emulated hosted VertexSMS MCP server at ``/mcp``, its bearer gate and RFC 9728 metadata.

Two tools, the ones with no REST endpoint: ``correct_phone_number`` and
``get_mobile_prefixes``.  Every failing call is ``isError: true`` whose text is exactly the
contract's JSON envelope (``VertexError.to_json()``).  The gate answers before the MCP
layer: no or unknown bearer token is 401 and a token without ``numbers:read`` is 403, each
with a ``WWW-Authenticate`` challenge that points at the protected-resource metadata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vertex_stdio.core.errors import (
    AuthError,
    AuthInvalid,
    AuthRequired,
    InsufficientScope,
    InvalidInput,
    UpstreamError,
    VertexError,
)
from vertex_stdio.vertexsms.links import with_links
from vertex_stdio.vertexsms.sandbox.hostedtools import (
    HOSTED_SCOPE,
    correct_phone_number,
    error_text,
    get_mobile_prefixes,
)
from vertex_stdio.vertexsms.sandbox.state import SCOPE_ORDER, SandboxState

log = logging.getLogger(__name__)

METADATA_PATH = "/.well-known/oauth-protected-resource"


class HostedServer(MCPServer[Any]):
    """MCPServer whose tool failures are the contract's JSON envelope and nothing else."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except MCPError:
            raise
        except ToolError as exc:
            error = _as_vertex_error(exc)
            return CallToolResult(content=[TextContent(type="text", text=error_text(error))], is_error=True)


def _as_vertex_error(exc: ToolError) -> VertexError:
    cause = exc.__cause__
    if isinstance(cause, VertexError):
        return cause
    if isinstance(cause, ValidationError):
        problems = [
            f"`{'.'.join(str(p) for p in e['loc']) or '(arguments)'}`: {e['msg']}"
            for e in cause.errors()[:10]
        ]
        return InvalidInput("Invalid arguments: " + "; ".join(problems) + ".")
    if cause is None and str(exc).startswith("Unknown tool"):
        return InvalidInput(str(exc) + ".")
    log.error("sandbox tool crashed", exc_info=cause or exc)
    return UpstreamError("The sandbox MCP server failed unexpectedly.")


def build_hosted(
    state: SandboxState, base_url: str
) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The gated ``/mcp`` ASGI app and the session manager's run() for the host's lifespan."""
    server = HostedServer(name="vertexsms-sandbox", title="VertexSMS (sandbox)", log_level="WARNING")
    server.add_tool(correct_phone_number, structured_output=True)
    server.add_tool(get_mobile_prefixes, structured_output=True)
    app = server.streamable_http_app(streamable_http_path="/mcp", json_response=True, stateless_http=True)
    return McpGate(app, state, base_url), server.session_manager.run


def resource_metadata(state: SandboxState, base_url: str) -> dict[str, Any]:
    """The RFC 9728 protected-resource metadata of ``<base>/mcp``."""
    return {
        "resource": base_url + "/mcp",
        "authorization_servers": list(state.authorization_servers),
        "bearer_methods_supported": ["header"],
        "scopes_supported": list(SCOPE_ORDER),
    }


def metadata_endpoint(state: SandboxState, base_url: str) -> Callable[[Request], Any]:
    async def metadata(_request: Request) -> Response:
        return JSONResponse(resource_metadata(state, base_url))

    return metadata


class McpGate:
    """Bearer-token check in front of the MCP app: 401 / 403 with RFC 6750/9728 challenges."""

    def __init__(self, app: ASGIApp, state: SandboxState, base_url: str) -> None:
        self.app = app
        self.state = state
        self.metadata_url = base_url + METADATA_PATH + "/mcp"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        refusal = await self._refusal(token)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    async def _refusal(self, token: str) -> Response | None:
        meta = f'resource_metadata="{self.metadata_url}"'
        if not token:
            error: AuthError = AuthRequired("Sign in: this MCP server needs an Authorization: Bearer token.")
            return _challenge(401, error, f"Bearer {meta}")
        scopes = await self.state.scopes_for(token)
        if scopes is None:
            error = AuthInvalid("The bearer token is not valid (unknown, expired or revoked).")
            return _challenge(401, error, f'Bearer error="invalid_token", {meta}')
        if HOSTED_SCOPE not in scopes:
            error = InsufficientScope(f"The token lacks the {HOSTED_SCOPE} scope these tools need.")
            return _challenge(
                403, error, f'Bearer error="insufficient_scope", scope="{HOSTED_SCOPE}", {meta}'
            )
        return None


def _challenge(status: int, error: AuthError, www_authenticate: str) -> Response:
    body = json.dumps(with_links(error).envelope())
    return Response(body, status, {"WWW-Authenticate": www_authenticate}, media_type="application/json")
