"""``connect`` options users ask bridges for: API-key headers, tool filters, proxies; a server
with no OAuth; a server of the 2024-11-05 HTTP+SSE transport.

The remote (tests/support/remote_mcp.py with issuer ``none``) needs no sign-in, only ``X-Api-Key``;
the real ``vertex-stdio connect`` process is driven by the SDK client over stdio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from forward_proxy import forward_proxy
from mcp import Client, StdioServerParameters
from mcp.types import TextContent
from oauth_server.harness import first_line, stop

from bridge import process_env

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
TESTS = Path(__file__).resolve().parents[1] / "support"
KEY = "key-7f3a9c1e5b2d4f60"


@contextmanager
def keyed_remote(tmp: Path, path: str = "/mcp", **env: str) -> Iterator[str]:
    """The remote without OAuth, wanting ``X-Api-Key: KEY``; yields its MCP URL."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "remote_mcp.py"), "none", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "REMOTE_LOG": str(tmp / "remote.log"), "REMOTE_API_KEY": KEY, **env},
    )
    try:
        line = first_line(proc, 30.0)
        assert line.startswith(b"READY "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}{path}"
    finally:
        stop(proc)


async def test_an_api_key_header_and_a_tool_filter_without_any_sign_in(tmp_path: Path) -> None:
    """``--header X-Api-Key=VAR`` sends VAR's value (never logged); ``--tools``/``--exclude-tools``
    decide what is listed and callable; no 401, so no sign-in and no ``sign_in`` tool."""
    with keyed_remote(tmp_path) as url:
        env = process_env(tmp_path / "home", REMOTE_KEY=KEY, VERTEXSMS_LOG_LEVEL="DEBUG")
        args = ["--header", "X-Api-Key=REMOTE_KEY", "--tools", "search,fe*", "--exclude-tools", "fetch"]
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "vertex_stdio", "connect", url, *args], env=env
        )
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            found = await client.call_tool("search", {"query": "x"})
            hidden = await client.call_tool("context_pack", {"query": "x"})
    assert tools == ["search"]
    assert not found.is_error
    assert hidden.is_error
    assert isinstance(hidden.content[0], TextContent)
    assert json.loads(hidden.content[0].text)["error"]["code"] == "NOT_FOUND"
    noted = tmp_path / "remote.log"
    assert "401" not in (noted.read_text().splitlines() if noted.exists() else [])
    logs = "".join(p.read_text() for p in (tmp_path / "home" / "logs").glob("*"))
    assert "Sending client message" in logs  # the debug log was written, and holds no key
    assert KEY not in logs


async def test_a_2024_11_05_server_is_spoken_to_over_http_and_sse(tmp_path: Path) -> None:
    """A remote of the HTTP+SSE transport refuses the Streamable POST (405): connect falls back to
    GET /sse and POSTs to the endpoint it names; lists and calls work, the header goes along."""
    with keyed_remote(tmp_path, "/sse", REMOTE_LEGACY_SSE="1") as url:
        env = process_env(tmp_path / "home", REMOTE_KEY=KEY)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "vertex_stdio", "connect", url, "--header", "X-Api-Key=REMOTE_KEY"],
            env=env,
        )
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            found = await client.call_tool("context_pack", {"query": "x"})
    assert "search" in tools
    assert not found.is_error, found
    assert isinstance(found.content[0], TextContent)
    assert found.content[0].text == "pack for x"
    logs = "".join(p.read_text() for p in (tmp_path / "home" / "logs").glob("*"))
    assert "using HTTP+SSE" in logs


@pytest.mark.parametrize("bypass", [False, True])
async def test_http_proxy_and_no_proxy_are_honoured(tmp_path: Path, bypass: bool) -> None:
    """``HTTP_PROXY`` carries every request to the remote through a real proxy on loopback;
    with the remote's host in ``NO_PROXY`` none goes through it."""
    with keyed_remote(tmp_path) as url, forward_proxy() as proxy:
        extra = {"HTTP_PROXY": proxy.url, "REMOTE_KEY": KEY, **({"NO_PROXY": "127.0.0.1"} if bypass else {})}
        env = process_env(tmp_path / "home", **extra)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "vertex_stdio", "connect", url, "--header", "X-Api-Key=REMOTE_KEY"],
            env=env,
        )
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            found = await client.call_tool("context_pack", {"query": "x"})
    assert not found.is_error, found
    if bypass:
        assert proxy.seen == []
    else:
        assert f"POST {url}" in proxy.seen, proxy.seen
