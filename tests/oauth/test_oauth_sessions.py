"""Issue 10: logout reaches running processes, fixed callback ports are reusable, memory-only
processes sign in side by side, and ``login`` defers to a pasted token.

Against node-oidc-provider, the scripted browser and real state files.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
from pathlib import Path

import pytest
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect
from oauth_server.helpers import figure, make

from bridge import vertex
from vertex_stdio.app import signin as commands
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.storage.secrets import FileSecrets, MemorySecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

SRC = Path(__file__).resolve().parents[2] / "src"


def file_store(state: Path) -> TokenStore:
    return TokenStore(state, FileSecrets(state / "secrets.json"))


@pytest.mark.anyio
async def test_logout_stops_a_running_process_on_its_next_call(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """After ``logout`` elsewhere, a process holding a live access token refuses its next call."""
    state = tmp_path / "shared"
    mcp_url = protect(resource, as_server.issuer)
    running = make(mcp_url, tmp_path, store=file_store(state))
    try:
        token = await running.token(["sms:send"])
        assert await running.token(["sms:send"]) == token  # in memory, still fine
        profile = vertexsms_profile(Settings(mcp_url=mcp_url).validated())
        out = io.StringIO()
        assert await commands.logout(profile, out=out, store=file_store(state)) == 0
        refreshes = len(as_server.journal("grant", grant_type="refresh_token"))
        with pytest.raises(AuthRequired, match="signed out"):
            await running.token(["sms:send"])
        with pytest.raises(AuthRequired):
            await running.token(["sms:send"])  # and no browser tab after that either
    finally:
        await running.aclose()
    assert len(as_server.journal("grant", grant_type="refresh_token")) == refreshes
    assert "Signed out" in out.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_fixed_callback_port_is_reusable_at_once(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """Four sign-ins in a row on one fixed callback port all succeed (SO_REUSEADDR)."""
    port = free_port()
    mcp_url = protect(resource, as_server.issuer)
    done = 0
    for _ in range(4):
        provider = make(mcp_url, tmp_path, callback_port=port)
        try:
            await provider.signin(["sms:send"], wait=20)
            done += 1
        finally:
            await provider.aclose()
    figure(f"4 sign-ins in a row on fixed port: {done} succeeded")
    assert done == 4


@pytest.mark.anyio
async def test_taken_callback_port_is_reported_and_does_not_pause_sign_in(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """A port held by someone else is "in use"; once it is free, the next call signs in at once."""
    port = free_port()
    provider = make(protect(resource, as_server.issuer), tmp_path, callback_port=port)
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(AuthRequired, match="in use"):
            await provider.token(["sms:send"])
        holder.close()
        assert await provider.token(["sms:send"])
    finally:
        holder.close()
        await provider.aclose()


@pytest.mark.anyio
async def test_memory_only_processes_do_not_block_each_others_sign_in(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """With no keyring and no file store, a second process signs in while the first still waits."""
    state = tmp_path / "shared"
    mcp_url = protect(resource, as_server.issuer)
    waiting = make(mcp_url, tmp_path, store=TokenStore(state, MemorySecrets()), signin_timeout=15.0)

    async def never(url: str) -> bool:
        return True  # the first person never finishes in the browser

    waiting._opener = never
    second = make(mcp_url, tmp_path, store=TokenStore(state, MemorySecrets()))
    first = asyncio.create_task(waiting.token(["sms:send"]))
    try:
        await asyncio.sleep(1.0)  # the first holds its sign-in open
        assert not first.done()
        assert await asyncio.wait_for(second.token(["sms:send"]), 15)
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await waiting.aclose()
        await second.aclose()


def test_login_with_a_pasted_token_says_it_wins_and_does_nothing(tmp_path: Path) -> None:
    """``login`` with VERTEXSMS_API_TOKEN set: one sentence, exit 0, no browser, no network, no state."""
    opened = tmp_path / "opened"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nenv > "{opened}"\n')
    script.chmod(0o700)
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "VERTEXSMS_LOG_DIR": str(tmp_path / "logs"),
        "BROWSER": f"{script} %s",
        "VERTEXSMS_API_TOKEN": "VTX-CANARY-login-0001",
        "VERTEXSMS_MCP_URL": "http://127.0.0.1:9/mcp",  # nothing listens: any attempt would fail
    }
    done = vertex(env, "login", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "VERTEXSMS_API_TOKEN is set" in done.stdout
    assert not opened.exists()
    assert not (tmp_path / "state" / "vertex-stdio" / "auth.json").exists()
    assert "VTX-CANARY" not in done.stdout + done.stderr
