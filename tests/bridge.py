"""Test helpers: the bridge in-process against an emulator, and reading tool results."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent

from vertex_stdio.config import Settings
from vertex_stdio.credentials import StaticTokenProvider, TokenProvider
from vertex_stdio.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.server import build_server


def settings_for(emulator: Emulator, **changes: Any) -> Settings:
    """Settings pointing at the emulator, with short timeouts for tests."""
    base = Settings(api_url=emulator.api_url, mcp_url=emulator.mcp_url, http_timeout=3.0)
    return replace(base, **changes).validated()


@asynccontextmanager
async def connected(
    emulator: Emulator,
    tokens: TokenProvider | None = None,
    **changes: Any,
) -> AsyncIterator[Client]:
    """An SDK client connected in-process to a bridge whose upstream is ``emulator``."""
    settings = settings_for(emulator, **changes)
    server = build_server(settings, tokens or StaticTokenProvider(SANDBOX_TOKEN))
    async with Client(server, mode="legacy") as client:
        yield client


def envelope(result: CallToolResult) -> dict[str, Any]:
    """The ``error`` object of a failed call; fails the test if the call did not fail cleanly."""
    assert result.is_error, f"expected a tool error, got {result.structured_content!r}"
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, TextContent)
    body = json.loads(block.text)
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert {"code", "message", "retryable", "vertex_error_code"} <= error.keys()
    return error


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call."""
    if result.is_error:
        text = result.content[0].text if isinstance(result.content[0], TextContent) else ""
        raise AssertionError(f"tool failed: {text}")
    assert isinstance(result.structured_content, dict)
    return result.structured_content
