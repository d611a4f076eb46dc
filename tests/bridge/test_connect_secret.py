"""A pre-registered confidential client through the real ``connect`` process and node-oidc-provider.

The authorization server knows the client ``vertex-conf`` with a secret and
``client_secret_basic``: it refuses the code exchange and every refresh that do not authenticate
the client (``invalid_client``), so a sign-in that survives a refresh proves the secret was sent both
times.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from oauth_server.harness import auth_server, node_ready
from test_connect import _env, remote, text

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

CLIENT_ID = "vertex-conf"
SECRET = "conf-secret-7f3a9c1e5b2d4a6f8e0c"  # test-only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def confidential(port: int, method: str = "client_secret_basic") -> str:
    """``AS_CLIENTS`` for one pre-registered confidential client whose callback is on ``port``."""
    return json.dumps(
        [
            {
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "token_endpoint_auth_method": method,
                "application_type": "native",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [f"http://127.0.0.1:{port}/callback"],
            }
        ]
    )


@asynccontextmanager
async def connect_env(url: str, home: Path, env: dict[str, str], *args: str) -> AsyncIterator[Client]:
    """The real ``vertex-stdio connect URL ARGS`` with ``env`` added to the test environment."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vertex_stdio", "connect", url, *args],
        env={**_env(home, None), **env},
    )
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        yield client


@pytest.mark.anyio
async def test_a_confidential_clients_refresh_sends_its_secret(browser: Path, tmp_path: Path) -> None:
    """Signed in with --client-secret-env; the 3-second access token runs out while calls go on; the
    refresh (granted only with the secret) renews it: one sign-in, refreshes, no ``invalid_client``."""
    port = free_port()
    clients = confidential(port)
    with auth_server(
        tmp_path, AS_NO_REGISTRATION="1", AS_REFRESH_ALWAYS="1", AS_AT_TTL="3", AS_CLIENTS=clients
    ) as as_server:
        with remote(as_server.issuer, tmp_path) as url:
            env = {"VERTEXSMS_CALLBACK_PORT": str(port), "CONF_SECRET": SECRET}
            args = ("--client-id", CLIENT_ID, "--client-secret-env", "CONF_SECRET")
            async with connect_env(url, tmp_path, env, *args) as client:
                signed = await client.call_tool("sign_in", {})
                assert not signed.is_error, text(signed)
                with anyio.fail_after(40):  # bounded: calls go on until a refresh was granted
                    while not as_server.journal("grant", grant_type="refresh_token"):
                        assert as_server.journal("grant_error") == []
                        called = await client.call_tool("fetch", {"id": "n2"})
                        assert not called.is_error, text(called)
                        await anyio.sleep(0.5)
                renewed = await client.call_tool("fetch", {"id": "n2"})
                assert not renewed.is_error, text(renewed)
        assert len(as_server.journal("grant", grant_type="authorization_code", client_id=CLIENT_ID)) == 1
        assert as_server.journal("grant", grant_type="refresh_token", client_id=CLIENT_ID)
        assert as_server.journal("grant_error") == []
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())
    assert SECRET not in logs
