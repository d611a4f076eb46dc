"""``vertex-stdio connect URL``: a Vocci-shaped remote behind a real authorization server, served over stdio.

The remote (tests/remote_mcp.py) and node-oidc-provider run as their own processes; the real
``vertex-stdio connect`` process is driven by the SDK client over stdio; the browser is the
scripted one (consent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent
from oauth_server.harness import AuthServer, auth_server, first_line, node_ready, stop

from bridge import process_env

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]
TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"


@contextmanager
def remote(issuer: str, tmp: Path, port: int = 0, **env: str) -> Iterator[str]:
    """The Vocci-shaped remote on 127.0.0.1; yields its MCP URL; stopped on exit."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "remote_mcp.py"), issuer, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "REMOTE_LOG": str(tmp / "remote.log"), **env},
    )
    try:
        line = first_line(proc, 30.0)
        assert line.startswith(b"READY "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        stop(proc)


def _env(home: Path, browser: Path | None) -> dict[str, str]:
    extra = {
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
        "VERTEXSMS_SIGNIN_TIMEOUT": "40",
        "VERTEXSMS_HTTP_TIMEOUT": "10",
    }
    for name in (
        "BROWSER",
        "TEST_BROWSER_LOG",
        "TEST_BROWSER_MODE",
        "TEST_BROWSER_OPENS",
        "PYTHONPATH",
        "VERTEXSMS_LOG_LEVEL",
    ):
        if name in os.environ:
            extra[name] = os.environ[name]
    return process_env(home, **extra)


@asynccontextmanager
async def connect(url: str, home: Path, *args: str, browser: Path | None = None) -> AsyncIterator[Client]:
    """The real ``vertex-stdio connect URL`` process, as a desktop client would start it."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio", "connect", url, *args], env=_env(home, browser)
    )
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        yield client


async def sign_in_once(url: str, home: Path, *args: str) -> None:
    """Start ``connect`` and call ``sign_in``, as a person does the first time."""
    async with connect(url, home, *args) as client:
        result = await client.call_tool("sign_in", {})
        assert not result.is_error, text(result)


def text(result: CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


def envelope(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error
    error: dict[str, Any] = json.loads(text(result))["error"]
    return error


@pytest.fixture
def as_server(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


@pytest.mark.anyio
async def test_first_run_offers_sign_in_then_serves_the_remote_unchanged(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """No cache: one sign_in tool; its call signs in; then tools, resources, prompts and errors pass through."""
    with remote(as_server.issuer, tmp_path) as url:
        async with connect(url, tmp_path) as client:
            assert client.instructions
            assert "sign_in" in client.instructions
            tools = (await client.list_tools()).tools
            assert [t.name for t in tools] == ["sign_in"]
            assert "127.0.0.1" in (tools[0].title or "")
            # Before a sign-in nothing but unauthenticated discovery probes reached the remote.
            log = tmp_path / "remote.log"
            assert set(log.read_text().split()) <= {"401"} if log.exists() else True
            early = envelope(await client.call_tool("search", {"query": "x"}))
            assert early["code"] == "AUTH_REQUIRED"
            assert early["signin_url"].startswith("http://127.0.0.1:")  # the sign-in link
            assert early["signin_url"] in early["message"]
            signed = await client.call_tool("sign_in", {})
            assert not signed.is_error, text(signed)
            assert "search" in text(signed)
            tools = (await client.list_tools()).tools
            assert sorted(t.name for t in tools) == ["context_pack", "fetch", "search", "slow"]
            search = next(t for t in tools if t.name == "search")
            assert search.annotations is not None
            assert search.annotations.read_only_hint is True
            assert search.meta == {"vocci/kind": "search"}
            assert search.output_schema is not None
            found = await client.call_tool("search", {"query": "cats"})
            assert found.structured_content == {"results": [{"id": "note-1", "title": "About cats"}]}
            failed = await client.call_tool("search", {"query": "fail"})
            assert failed.is_error
            assert "the search index is offline" in text(failed)
            resources = (await client.list_resources()).resources
            assert [str(r.uri) for r in resources] == ["vocci://about"]
            templates = (await client.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["vocci://notes/{note_id}"]
            read = await client.read_resource("vocci://notes/7")
            assert "note 7" in json.dumps(read.model_dump(mode="json"))
            prompt = await client.get_prompt("summarize", {"topic": "tea"})
            assert "tea" in json.dumps(prompt.model_dump(mode="json"))
    assert len(as_server.journal("grant", grant_type="authorization_code")) == 1


@pytest.mark.anyio
async def test_offline_start_answers_from_the_cache(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """With the remote stopped, initialize and the lists come from the cache; a call says what is wrong."""
    with remote(as_server.issuer, tmp_path) as url:
        await sign_in_once(url, tmp_path)
    async with connect(url, tmp_path) as client:
        assert client.instructions
        assert "Vocci-like" in client.instructions
        assert sorted(t.name for t in (await client.list_tools()).tools) == [
            "context_pack",
            "fetch",
            "search",
            "slow",
        ]
        assert [str(r.uri) for r in (await client.list_resources()).resources] == ["vocci://about"]
        error = envelope(await client.call_tool("fetch", {"id": "n"}))
        assert error["code"] == "UPSTREAM_UNAVAILABLE"
        assert error["retryable"] is True


@pytest.mark.anyio
async def test_a_changed_tool_list_is_noticed_and_announced(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """The cache answers first; the background refresh finds the new tool and sends list_changed."""
    flag = tmp_path / "extra-tool"
    with remote(as_server.issuer, tmp_path, REMOTE_EXTRA_TOOL=str(flag)) as url:
        await sign_in_once(url, tmp_path)
    flag.touch()
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    with remote(
        as_server.issuer, tmp_path, port=int(url.split(":")[2].split("/")[0]), REMOTE_EXTRA_TOOL=str(flag)
    ):
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "vertex_stdio", "connect", url], env=_env(tmp_path, None)
        )
        async with Client(
            params, mode="legacy", message_handler=on_message, read_timeout_seconds=60
        ) as client:
            first = sorted(t.name for t in (await client.list_tools()).tools)
            assert first == ["context_pack", "fetch", "search", "slow"]
            with anyio.fail_after(30):
                await changed.wait()
            assert "extra" in [t.name for t in (await client.list_tools()).tools]
    assert len(as_server.journal("grant", grant_type="authorization_code")) == 1  # no second sign-in


@pytest.mark.anyio
async def test_a_remote_that_drops_the_connection_is_reconnected(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """The remote restarts (its session is gone); the next read-only call reconnects and succeeds."""
    with remote(as_server.issuer, tmp_path) as url:
        port = int(url.split(":")[2].split("/")[0])
        async with connect(url, tmp_path) as client:
            assert not (await client.call_tool("sign_in", {})).is_error
            assert not (await client.call_tool("context_pack", {"query": "a"})).is_error
            restarted: Any = None
    # Outside the first remote's lifetime: a fresh remote on the same port, with no sessions.
    with remote(as_server.issuer, tmp_path, port=port):
        async with connect(url, tmp_path) as client:
            restarted = await client.call_tool("context_pack", {"query": "b"})
    assert restarted is not None
    assert not restarted.is_error, text(restarted)


@pytest.mark.anyio
async def test_two_connect_processes_started_at_once_sign_in_once(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """Two copies (as a desktop client starts them) both call sign_in; the browser is used once."""
    with remote(as_server.issuer, tmp_path) as url:
        results: list[CallToolResult] = []

        async def one() -> None:
            async with connect(url, tmp_path) as client:
                results.append(await client.call_tool("sign_in", {}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)
    assert [r.is_error for r in results] == [False, False], [text(r) for r in results]
    assert len(as_server.journal("grant", grant_type="authorization_code")) == 1


@pytest.mark.anyio
async def test_progress_comes_back_and_cancellation_reaches_the_remote(
    as_server: AuthServer, browser: Path, tmp_path: Path
) -> None:
    """The remote's progress reaches the client; a cancelled call is cancelled at the remote too."""
    with remote(as_server.issuer, tmp_path) as url:
        async with connect(url, tmp_path) as client:
            assert not (await client.call_tool("sign_in", {})).is_error
            progress: list[tuple[float, str | None]] = []
            halfway = anyio.Event()

            async def on_progress(value: float, _total: float | None, message: str | None) -> None:
                progress.append((value, message))
                halfway.set()

            done = await client.call_tool("slow", {"seconds": 0}, progress_callback=on_progress)
            assert not done.is_error
            assert progress == [(0.5, "halfway")]
            halfway = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: client.call_tool("slow", {"seconds": 60}, progress_callback=on_progress)
                )
                with anyio.fail_after(20):
                    await halfway.wait()
                tg.cancel_scope.cancel()  # the SDK client sends notifications/cancelled
            log = tmp_path / "remote.log"
            with anyio.fail_after(20):
                while "cancelled slow" not in log.read_text():
                    await anyio.sleep(0.1)
