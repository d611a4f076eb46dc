"""Test servers on 127.0.0.1: the node-oidc-provider authorization server and small static servers.

Every server binds loopback only, starts within a bounded wait and is stopped by its context.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

HERE = Path(__file__).parent
SCOPES = ("sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read")


def node_ready() -> str | None:
    """Why the node AS cannot run here, or None.  Under CI (``CI`` set) a missing AS is an error."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (HERE / "node_modules" / "oidc-provider").is_dir():
        problem = "run `npm ci --prefix tests/support/oauth_server` first"
    if problem and os.environ.get("CI"):
        raise RuntimeError(f"the test authorization server cannot run: {problem}")
    return problem


@dataclass
class AuthServer:
    """A running node-oidc-provider; ``journal()`` lists its token/registration/revocation events."""

    issuer: str
    journal_path: Path
    process: subprocess.Popen[bytes]

    def journal(self, event: str | None = None, **match: Any) -> list[dict[str, Any]]:
        if not self.journal_path.exists():
            return []
        rows = [json.loads(line) for line in self.journal_path.read_text().splitlines() if line]
        rows = [r for r in rows if event is None or r.get("event") == event]
        return [r for r in rows if all(r.get(k) == v for k, v in match.items())]

    def metadata(self) -> dict[str, Any]:
        return httpx2.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()

    def introspect(self, token: str) -> dict[str, Any]:
        response = httpx2.post(
            f"{self.issuer}/token/introspection",
            data={"token": token},
            auth=("introspector", "introspector-secret"),
            timeout=5,
        )
        return response.json()

    def token_check(self, token: str) -> frozenset[str] | None:
        """For the emulator's ``token_check`` hook: the token's scopes when active, else None."""
        info = self.introspect(token)
        return frozenset(str(info.get("scope", "")).split()) if info.get("active") else None

    def revoke(self, token: str, hint: str, client_id: str) -> None:
        """Revoke as the (public) client that holds the token, like another device signing out."""
        response = httpx2.post(
            f"{self.issuer}/token/revocation",
            data={"token": token, "token_type_hint": hint, "client_id": client_id},
            timeout=5,
        )
        assert response.status_code == 200, response.text


@contextmanager
def auth_server(tmp: Path, **env: str) -> Iterator[AuthServer]:
    """Start ``server.mjs`` (bounded wait for READY); terminate it on exit."""
    journal = tmp / f"as-journal-{time.monotonic_ns()}.jsonl"
    proc = subprocess.Popen(
        [shutil.which("node") or "node", str(HERE / "server.mjs")],
        stdout=subprocess.PIPE,
        stderr=None if os.environ.get("AS_DEBUG") else subprocess.DEVNULL,
        env={**os.environ, "AS_JOURNAL": str(journal), **env},
    )
    try:
        assert proc.stdout is not None
        line = first_line(proc, 20.0)
        assert line.startswith(b"READY "), line
        yield AuthServer(f"http://127.0.0.1:{int(line.split()[1])}", journal, proc)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` (killed after 5 s) and close its stdout."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


def first_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    result: list[bytes] = []
    thread = threading.Thread(target=lambda: result.append(proc.stdout.readline() if proc.stdout else b""))
    thread.start()
    thread.join(timeout)
    return result[0] if result else b"(timeout)"


Route = tuple[int, dict[str, str], bytes]


@dataclass
class StaticServer:
    """A tiny HTTP server with a mutable route table: path -> (status, headers, body)."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def json(self, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.routes[path] = (
            status,
            {"Content-Type": "application/json", **(headers or {})},
            json.dumps(body).encode(),
        )


@contextmanager
def static_server() -> Iterator[StaticServer]:
    """Serve ``StaticServer.routes`` on 127.0.0.1:<free port> until the context ends."""
    state = StaticServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            state.hits.append(path)
            status, headers, body = state.routes.get(path, (404, {}, b"not found"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def protect(
    resource: StaticServer, issuer: str, *, where: str = "path", scopes: tuple[str, ...] = SCOPES
) -> str:
    """Make ``resource`` a protected MCP endpoint at /mcp whose metadata points at ``issuer``.

    ``where``: "path" (path-inserted well-known), "root", or "header" (only via the 401 header).
    Returns the MCP URL.
    """
    mcp_url = f"{resource.url}/mcp"
    body = {"resource": mcp_url, "authorization_servers": [issuer], "scopes_supported": list(scopes)}
    paths = {
        "path": "/.well-known/oauth-protected-resource/mcp",
        "root": "/.well-known/oauth-protected-resource",
        "header": "/meta/vertex-prm",
    }
    resource.json(paths[where], body)
    header = f'Bearer resource_metadata="{resource.url}{paths[where]}"'
    resource.routes["/mcp"] = (401, {"WWW-Authenticate": header}, b"")
    return mcp_url
