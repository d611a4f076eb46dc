"""Through the real process: a 1 kB JWT an upstream quotes back reaches neither the model nor the log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jwt_tokens import leaked, make_jwt
from stdio_server import Server

from bridge import process_env, rpc
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator, Fault

pytestmark = pytest.mark.slow
TOKEN = make_jwt()


class _QuotingHosted(BaseHTTPRequestHandler):
    """A hosted MCP server that answers every ``tools/call`` with an error quoting the bearer:
    whole in a JSON-RPC error, and split over three text blocks of an ``isError`` result."""

    protocol_version = "HTTP/1.1"
    mode = "rpc-error"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
        if "id" not in body:
            self._answer(202, b"")
            return
        if body["method"] == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": body["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "quoting", "version": "1"},
            }
            self._json({"jsonrpc": "2.0", "id": body["id"], "result": result})
        elif self.mode == "rpc-error":
            error = {"code": -32000, "message": f"Authorization: Bearer {bearer} is not allowed"}
            self._json({"jsonrpc": "2.0", "id": body["id"], "error": error})
        else:
            thirds = [bearer[:300], bearer[300:650], bearer[650:]]
            blocks = [{"type": "text", "text": f"token rejected: {part}"} for part in thirds]
            self._json({"jsonrpc": "2.0", "id": body["id"], "result": {"content": blocks, "isError": True}})

    def _json(self, message: dict[str, Any]) -> None:
        self._answer(200, json.dumps(message).encode(), "application/json")

    def _answer(self, status: int, data: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(params=["rpc-error", "split-blocks"])
def hosted(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_QuotingHosted,), {"mode": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _call(server: Server, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    server.initialize()
    server.send(rpc(7, "tools/call", {"name": name, "arguments": arguments}))
    answers = server.answers({7})
    assert 7 in answers, f"no answer to the call within the wait: {server.diagnostics}"
    result: dict[str, Any] = answers[7]["result"]
    return result


def _assert_no_piece(server: Server) -> None:
    server.finish()
    seen = {
        "stdout": server.raw.decode(),
        "stderr": server.stderr_path.read_text(),
        "log": server.log_path.read_text() if server.log_path.exists() else "",
    }
    for where, text in seen.items():
        assert leaked(text, TOKEN) == [], where


def test_rest_403_echoing_the_token_header_leaves_no_piece(tmp_path: Path) -> None:
    """VertexSMS's 403 quotes ``X-VertexSMS-Token: <the 1 kB JWT>``: the model gets the error
    with the words around it, and no 8-character piece of the token (nor does stderr or the log)."""
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        quoted = {"message": f"X-VertexSMS-Token: {TOKEN} may not use /operator (IP not whitelisted)"}
        emu.inject(
            Fault(status=403, body=json.dumps(quoted).encode(), headers={"content-type": "application/json"})
        )
        env = process_env(
            tmp_path, VERTEXSMS_API_URL=emu.api_url, VERTEXSMS_MCP_URL=emu.mcp_url, VERTEXSMS_API_TOKEN=TOKEN
        )
        server = Server(env, tmp_path)
        try:
            result = _call(server, "get_operator", {"operatorId": 1101})
        finally:
            _assert_no_piece(server)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "AUTH_INVALID" in text
    assert "X-VertexSMS-Token: [redacted] may not use /operator" in text


def test_hosted_error_quoting_the_bearer_leaves_no_piece(hosted: str, tmp_path: Path) -> None:
    """The hosted server quotes the bearer whole (a JSON-RPC error) or split over three text
    blocks (an ``isError`` result): no 8-character piece reaches the model, stderr or the log."""
    env = process_env(
        tmp_path, VERTEXSMS_MCP_URL=hosted, VERTEXSMS_API_TOKEN=TOKEN, VERTEXSMS_HTTP_TIMEOUT="5"
    )
    server = Server(env, tmp_path)
    try:
        result = _call(server, "get_mobile_prefixes", {"country": "LT"})
    finally:
        _assert_no_piece(server)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "UPSTREAM_ERROR" in text
    assert "[redacted]" in text
