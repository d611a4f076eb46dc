"""Signing in from inside a client when no browser opens: the real server process over stdio.

A BROWSER that fails: the first call answers AUTH_REQUIRED at once with the link, the next call
too, and the link still signs in.  A declined URL elicitation ends the wait; an accepted one keeps
it, and progress never says "in your browser" when none opened.  Figures print with ``-s``.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitRequestURLParams, ElicitResult
from oauth_server.harness import AuthServer, node_ready
from oauth_server.helpers import figure

from bridge import envelope, ok, process_env
from vertex_stdio.vertexsms.sandbox import Emulator

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"
BROWSER = TESTS / "oauth_server" / "browser.py"
SIGNIN_TIMEOUT = 60.0


@pytest.fixture
def protected(as_server: AuthServer) -> Iterator[Emulator]:
    with Emulator(tokens={}, authorization_servers=[as_server.issuer]) as emu:
        emu.token_check = as_server.token_check
        yield emu


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@asynccontextmanager
async def _server(tmp_path: Path, protected: Emulator, browser: str, **client: Any) -> AsyncIterator[Client]:
    env = process_env(
        tmp_path / "home",
        PYTHONPATH=os.pathsep.join([str(TESTS), str(TESTS.parents[1] / "src")]),
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_API_URL=protected.api_url,
        VERTEXSMS_MCP_URL=protected.mcp_url,
        VERTEXSMS_SIGNIN_TIMEOUT=str(SIGNIN_TIMEOUT),
        BROWSER=browser,
        TEST_BROWSER_MODE="ignore",
    )
    command = f'exec "{sys.executable}" -m vertex_stdio 2>>"{tmp_path / "stderr.txt"}"'
    params = StdioServerParameters(command="sh", args=["-c", command], env=env)
    async with Client(params, mode="legacy", **client) as session:
        yield session


def _consent(url: str) -> None:
    """The person opens the link in a browser of their own and consents."""
    done = subprocess.run(
        [sys.executable, str(BROWSER), url],
        env={**os.environ, "TEST_BROWSER_MODE": "consent"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0


def _link(message: str) -> str:
    found = re.search(r"Sign-in link: (\S+) \.", message)
    assert found, message
    return found.group(1)


@pytest.mark.anyio
async def test_no_browser_first_call_answers_at_once_with_the_link_which_still_signs_in(
    as_server: AuthServer, protected: Emulator, tmp_path: Path
) -> None:
    """A failing BROWSER: AUTH_REQUIRED at once (link + `vertex-stdio login`), again at once; the link works."""
    failing = _script(tmp_path, "no-browser.sh", "exit 1")
    messages: list[str] = []

    async def on_progress(_value: float, _total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with _server(tmp_path, protected, failing) as client:
        start = time.monotonic()
        first = envelope(
            await client.call_tool("get_operator", {"operatorId": 1101}, progress_callback=on_progress)
        )
        answered = time.monotonic() - start
        second = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
        again = time.monotonic() - start - answered
        await asyncio.to_thread(_consent, _link(first["message"]))
        for _ in range(50):
            result = await client.call_tool("get_operator", {"operatorId": 1101})
            if not result.is_error:
                break
            await asyncio.sleep(0.2)
        signed_in = ok(result)
    figure(f"browserless first call answered AUTH_REQUIRED in {answered:.2f} s, the second in {again:.2f} s")
    assert first["code"] == "AUTH_REQUIRED"
    assert "No browser could be opened" in first["message"]
    assert "vertex-stdio login" in first["message"]
    assert re.fullmatch(
        r"http://127\.0\.0\.1:\d+/start/\S+", _link(first["message"])
    )  # the one-time start URL
    assert answered < SIGNIN_TIMEOUT / 4  # at once, not after the sign-in timeout
    assert second["code"] == "AUTH_REQUIRED"
    assert "already waiting" in second["message"]
    assert _link(second["message"]) == _link(first["message"])
    assert again < SIGNIN_TIMEOUT / 4
    assert not any("in your browser" in m for m in messages)
    assert signed_in["name"]
    assert len(as_server.journal("grant", grant_type="authorization_code")) >= 1


@pytest.mark.anyio
@pytest.mark.parametrize("answer", ["decline", "cancel"])
async def test_declined_link_in_the_client_ends_the_wait(
    as_server: AuthServer, protected: Emulator, tmp_path: Path, answer: str
) -> None:
    """A browser "opened" but the person declines (or cancels) the client's link: the call ends at once."""
    opened = _script(tmp_path, "browser.sh", f'exec "{sys.executable}" "{BROWSER}" "$@"')  # mode: ignore
    offered: list[str] = []

    async def on_elicit(_context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams)
        offered.append(params.url)
        return ElicitResult(action=answer)  # type: ignore[arg-type]

    async with _server(tmp_path, protected, opened, elicitation_callback=on_elicit) as client:
        start = time.monotonic()
        refused = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
        took = time.monotonic() - start
    figure(f"link answered {answer!r}: the wait ended in {took:.2f} s")
    assert refused["code"] == "AUTH_REQUIRED"
    assert "declined the sign-in link" in refused["message"]
    assert len(offered) == 1
    assert took < SIGNIN_TIMEOUT / 4


@pytest.mark.anyio
async def test_accepted_link_without_a_browser_keeps_waiting_and_signs_in(
    as_server: AuthServer, protected: Emulator, tmp_path: Path
) -> None:
    """No browser, but the client shows the link and the person follows it: the call waits and succeeds."""
    failing = _script(tmp_path, "no-browser.sh", "exit 1")
    messages: list[str] = []
    following: list[asyncio.Task[None]] = []

    async def follow(url: str) -> None:
        await asyncio.sleep(4.0)  # long enough for a progress report or two
        await asyncio.to_thread(_consent, url)

    async def on_elicit(_context: Any, params: Any) -> ElicitResult:
        following.append(asyncio.create_task(follow(params.url)))
        return ElicitResult(action="accept")

    async def on_progress(_value: float, _total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with _server(tmp_path, protected, failing, elicitation_callback=on_elicit) as client:
        result = ok(
            await client.call_tool("get_operator", {"operatorId": 1101}, progress_callback=on_progress)
        )
    await asyncio.gather(*following)
    assert result["name"]
    assert messages
    assert not any("in your browser" in m for m in messages)
    assert any("at the link your client opened" in m for m in messages)
