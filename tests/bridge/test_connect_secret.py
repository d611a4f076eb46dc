"""A pre-registered confidential client through the real ``connect`` process and node-oidc-provider.

The authorization server knows the client ``vertex-conf`` with a secret and
``client_secret_basic``: it refuses the code exchange and every refresh that do not authenticate
the client (``invalid_client``), so a sign-in that survives a refresh proves the secret was sent both
times.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from oauth_server.harness import AuthServer, auth_server, node_ready
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
                await refreshed(as_server, client)
                renewed = await client.call_tool("fetch", {"id": "n2"})
                assert not renewed.is_error, text(renewed)
        assert len(as_server.journal("grant", grant_type="authorization_code", client_id=CLIENT_ID)) == 1
        assert as_server.journal("grant", grant_type="refresh_token", client_id=CLIENT_ID)
        assert as_server.journal("grant_error") == []
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())
    assert SECRET not in logs


def login(home: Path, env: dict[str, str], *args: str, typed: str) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio login ARGS`` with ``typed`` on its stdin (a pipe: the secret is one line)."""
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "login", *args],
        env={**_env(home, None), **env},
        input=typed,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def refreshed(as_server: AuthServer, client: Client) -> None:
    """Call ``fetch`` until the authorization server granted a refresh (bounded), each call served."""
    with anyio.fail_after(40):
        while not as_server.journal("grant", grant_type="refresh_token"):
            assert as_server.journal("grant_error") == []
            called = await client.call_tool("fetch", {"id": "n2"})
            assert not called.is_error, text(called)
            await anyio.sleep(0.5)


@pytest.mark.anyio
async def test_a_secret_typed_into_login_is_kept_in_the_secret_store_and_used_by_connect(
    browser: Path, tmp_path: Path
) -> None:
    """``login --server URL --client-id ID --ask-client-secret`` reads the secret from stdin, signs in
    with it, keeps it in the secret store only (the private file here; the keyring where there is one); a later ``connect URL --client-id ID`` (the command login
    printed, no --client-secret-env) refreshes with it."""
    port = free_port()
    clients = confidential(port)
    env = {"VERTEXSMS_CALLBACK_PORT": str(port)}  # the secret store: the private file (--allow-file-store)
    with auth_server(
        tmp_path, AS_NO_REGISTRATION="1", AS_REFRESH_ALWAYS="1", AS_AT_TTL="3", AS_CLIENTS=clients
    ) as as_server:
        with remote(as_server.issuer, tmp_path) as url:
            done = login(
                tmp_path,
                env,
                "--server",
                url,
                "--client-id",
                CLIENT_ID,
                "--ask-client-secret",
                typed=f"{SECRET}\n",
            )
            assert done.returncode == 0, done.stderr
            assert SECRET not in done.stdout + done.stderr
            printed = shlex.split(re.findall(r"`([^`]*connect [^`]*)`", done.stdout)[-1])
            assert printed[-4:] == ["connect", url, "--client-id", CLIENT_ID], done.stdout
            [secrets_file] = (tmp_path / "state").rglob("secrets.json")  # the secret store's file
            kept = json.loads(secrets_file.read_text())
            assert [
                account for account, value in kept.items() if value == SECRET and "client-secret" in account
            ]
            for path in tmp_path.rglob("*"):
                if path.is_file() and path != secrets_file:
                    assert SECRET.encode() not in path.read_bytes(), path  # no state, config or log file
            async with connect_env(url, tmp_path, env, *printed[-2:]) as client:
                await refreshed(as_server, client)
        assert len(as_server.journal("grant", grant_type="authorization_code", client_id=CLIENT_ID)) == 1
        assert as_server.journal("grant", grant_type="refresh_token", client_id=CLIENT_ID)
        assert as_server.journal("grant_error") == []


@pytest.mark.anyio
async def test_client_auth_post_for_a_client_registered_for_post(browser: Path, tmp_path: Path) -> None:
    """The client is registered with ``client_secret_post`` at a server that takes only that
    (``AS_POST_ONLY``) while its metadata lists both methods: Basic (the metadata's default) is
    refused as ``invalid_client``; ``--client-auth post`` on login and on the connect command login
    prints signs in, and every refresh sends the secret so."""
    port = free_port()
    clients = confidential(port, "client_secret_post")
    env = {"VERTEXSMS_CALLBACK_PORT": str(port), "CONF_SECRET": SECRET}
    with auth_server(
        tmp_path,
        AS_NO_REGISTRATION="1",
        AS_REFRESH_ALWAYS="1",
        AS_AT_TTL="3",
        AS_CLIENTS=clients,
        AS_POST_ONLY="1",
    ) as as_server:
        listed = as_server.metadata()["token_endpoint_auth_methods_supported"]
        assert {"client_secret_basic", "client_secret_post"} <= set(listed)
        with remote(as_server.issuer, tmp_path) as url:
            basic = ("--client-id", CLIENT_ID, "--client-secret-env", "CONF_SECRET")
            async with connect_env(url, tmp_path / "basic", env, *basic) as client:
                refused = await client.call_tool("sign_in", {})
            assert refused.is_error
            assert len(as_server.journal("basic_refused", path="/token")) == 1
            assert as_server.journal("grant") == []
            done = login(
                tmp_path,
                env,
                *("--server", url, "--client-id", CLIENT_ID, "--client-auth", "post", "--ask-client-secret"),
                typed=f"{SECRET}\n",
            )
            assert done.returncode == 0, done.stderr
            printed = shlex.split(re.findall(r"`([^`]*connect [^`]*)`", done.stdout)[-1])
            assert printed[-6:] == ["connect", url, "--client-id", CLIENT_ID, "--client-auth", "post"]
            async with connect_env(url, tmp_path, env, *printed[-4:]) as client:
                await refreshed(as_server, client)
        granted = as_server.journal("grant", client_id=CLIENT_ID)
        assert granted[0]["grant_type"] == "authorization_code"
        assert "refresh_token" in {g["grant_type"] for g in granted}
        assert len(as_server.journal("basic_refused")) == 1  # only the first connect's Basic attempt
        assert as_server.journal("grant_error") == []


def test_client_auth_needs_a_client_id_and_a_server(tmp_path: Path) -> None:
    """A usage error (exit 2) without --client-id, or on VertexSMS's own login; a bad choice too."""
    url = "http://127.0.0.1:9/mcp"
    alone = login(tmp_path, {}, "--server", url, "--client-auth", "post", typed="")
    assert alone.returncode == 2
    assert "needs --client-id" in alone.stderr
    vertexsms = login(tmp_path, {}, "--client-id", CLIENT_ID, "--client-auth", "post", typed="")
    assert vertexsms.returncode == 2
    assert "for a remote server" in vertexsms.stderr
    wrong = login(tmp_path, {}, "--server", url, "--client-id", CLIENT_ID, "--client-auth", "jwt", typed="")
    assert wrong.returncode == 2
    assert "invalid choice" in wrong.stderr


def test_ask_client_secret_needs_a_client_id_and_a_secret(tmp_path: Path) -> None:
    """Without --client-id, or with nothing typed, login stops before any sign-in (exit 2)."""
    url = "http://127.0.0.1:9/mcp"
    alone = login(tmp_path, {}, "--server", url, "--ask-client-secret", typed=f"{SECRET}\n")
    assert alone.returncode == 2
    assert "--client-id" in alone.stderr
    empty = login(tmp_path, {}, "--server", url, "--client-id", CLIENT_ID, "--ask-client-secret", typed="\n")
    assert empty.returncode == 2
    assert "No client secret" in empty.stderr
    vertexsms = login(tmp_path, {}, "--ask-client-secret", typed=f"{SECRET}\n")
    assert vertexsms.returncode == 2
    in_argv = login(
        tmp_path, {}, "--server", url, "--client-id", CLIENT_ID, "--ask-client-secret", SECRET, typed=""
    )
    assert in_argv.returncode == 2
    assert "takes no value" in in_argv.stderr
    assert SECRET not in alone.stderr + empty.stderr + vertexsms.stderr + in_argv.stderr + in_argv.stdout
