"""Browser sign-in through the whole bridge: a tool call signs in, REST and hosted MCP get the token."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitRequestURLParams, ElicitResult
from oauth_server.harness import AuthServer, node_ready

from bridge import envelope, ok
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.vertexsms.sandbox import Emulator
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]
TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"


@pytest.fixture
def protected(as_server: AuthServer) -> Iterator[Emulator]:
    """The emulator accepting only tokens the test authorization server issued (by introspection)."""
    with Emulator(tokens={}, authorization_servers=[as_server.issuer]) as emu:
        emu.token_check = as_server.token_check
        yield emu


def _slow_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """BROWSER = the scripted browser, after ``delay`` seconds (so the wait shows progress)."""
    script = tmp_path / "slow-browser.sh"
    browser = TESTS / "oauth_server" / "browser.py"
    script.write_text(f'#!/bin/sh\nsleep {delay}\nexec "{sys.executable}" "{browser}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BROWSER", str(script))


@pytest.mark.anyio
async def test_first_tool_call_signs_in_with_progress_and_url_offer(
    as_server: AuthServer,
    protected: Emulator,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first call opens the browser, reports progress, offers the URL, then REST and MCP calls succeed."""
    _slow_browser(tmp_path, monkeypatch, delay=4.0)
    settings = Settings(api_url=protected.api_url, mcp_url=protected.mcp_url, signin_timeout=30.0).validated()
    provider = OAuthTokenProvider(
        vertexsms_profile(settings), store=TokenStore(tmp_path / "state", MemorySecrets())
    )
    offered: list[str] = []
    progress: list[float] = []

    async def on_elicit(_context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams)
        offered.append(params.url)
        return ElicitResult(action="accept")

    async def on_progress(value: float, _total: float | None, _message: str | None) -> None:
        progress.append(value)

    try:
        server = build_server(settings, provider)
        async with Client(server, mode="legacy", elicitation_callback=on_elicit) as client:
            tools = await client.list_tools()
            assert protected.journal == []  # listing tools never signs in
            rates = ok(
                await client.call_tool("get_sms_rates", {"country": "LT"}, progress_callback=on_progress)
            )
            prefixes = ok(await client.call_tool("get_mobile_prefixes", {"country": "LV"}))
    finally:
        await provider.aclose()
    assert len(tools.tools) == 12  # the ten hosted tools, quote_sms and get_sms_status
    assert rates["country"] == "LT"
    assert prefixes["country"] == "LV"
    assert progress
    assert progress == sorted(progress)
    assert len(offered) == 1
    # The elicitation offers the one-time loopback start URL, never state or the PKCE challenge.
    assert urlsplit(offered[0]).path.startswith("/start/")
    assert "state=" not in offered[0]
    assert "code_challenge" not in offered[0]
    rest_token = protected.journal_for("GET", "/rates/")[0].headers["x-vertexsms-token"]
    bearer = protected.journal_for("POST", "/mcp")[-1].headers["authorization"].removeprefix("Bearer ")
    assert rest_token == bearer
    assert as_server.introspect(rest_token)["active"] is True
    assert len(as_server.journal("grant", grant_type="authorization_code")) >= 1


@pytest.mark.anyio
async def test_real_process_signs_in_once_and_the_next_process_reuses_it(
    as_server: AuthServer,
    protected: Emulator,
    browser: Path,
    tmp_path: Path,
) -> None:
    """Two server processes in turn: one browser sign-in, the second process uses the stored sign-in."""
    copy = tmp_path / "stdout.bin"
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parents[1] / "src")]),
        # A headless machine: no OS keyring, and the explicit opt-in to the 0600 file store.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VERTEXSMS_LOG_DIR": str(tmp_path / "logs"),
        "VERTEXSMS_API_URL": protected.api_url,
        "VERTEXSMS_MCP_URL": protected.mcp_url,
        "VERTEXSMS_SIGNIN_TIMEOUT": "30",
        "BROWSER": os.environ["BROWSER"],
        "TEST_BROWSER_LOG": os.environ["TEST_BROWSER_LOG"],
        "TEST_BROWSER_MODE": "consent",
        "TEE_STDOUT_FILE": str(copy),
    }
    params = StdioServerParameters(command=sys.executable, args=[str(TESTS / "stdio_tee.py")], env=env)
    grants_before = len(as_server.journal("grant", grant_type="authorization_code"))
    async with Client(params, mode="legacy") as client:
        first = ok(await client.call_tool("get_operator", {"operatorId": 1101}))
    async with Client(params, mode="legacy") as client:
        second = ok(
            await client.call_tool(
                "correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}
            )
        )
        missing = envelope(await client.call_tool("get_operator", {"operatorId": 999999}))
    assert first["name"]
    assert second["results"][0]["number_e164"] == "+37061860698"
    assert missing["code"] == "NOT_FOUND"
    assert len(as_server.journal("grant", grant_type="authorization_code")) == grants_before + 1
    assert browser.read_text().count("<!doctype html>") == 1  # one tab, ever
    for line in copy.read_bytes().splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"
    token = protected.journal_for("GET", "/operators/1101")[0].headers["x-vertexsms-token"]
    logs = (tmp_path / "logs" / "vertex-stdio.log").read_text()
    assert token not in logs
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file() and "secret" not in path.name:
            assert token not in path.read_text(errors="replace"), path
