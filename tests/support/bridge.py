"""Test helpers: the bridge in-process against an emulator, and reading tool results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent

from vertex_stdio.core.credentials import StaticTokenProvider, TokenProvider
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings

SUPPORT = Path(__file__).resolve().parent


def settings_for(emulator: Emulator, **changes: Any) -> Settings:
    """Settings pointing at the emulator, with short timeouts for tests.

    The duplicate guard is off unless a test turns it on (``duplicate_window=10``): most tests
    send the same sample message again and again, each time on purpose.  So is the person's
    confirmation (``confirm_sends=True``; tests/vertexsms/approval and test_journal_confirm test
    it): a client without elicitation would otherwise be sent to the browser to approve each send.
    """
    base = Settings(
        api_url=emulator.api_url,
        mcp_url=emulator.mcp_url,
        http_timeout=3.0,
        duplicate_window=0,
        confirm_sends=False,
    )
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


def rpc(id_: int | str | None, method: str, params: dict[str, Any] | None = None) -> bytes:
    """One JSON-RPC line for a raw stdio session (a notification when ``id_`` is None)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if id_ is not None:
        message["id"] = id_
    return json.dumps(message).encode() + b"\n"


def process_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the real process: isolated dirs, no keyring, unbuffered, no
    confirmation of sends (``VERTEXSMS_CONFIRM_SENDS=1`` in ``extra`` asks for it: without it a
    client without elicitation would be sent to the browser to approve each send)."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "VERTEXSMS_LOG_DIR": str(home / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONUNBUFFERED": "1",
        "VERTEXSMS_CONFIRM_SENDS": "0",
    }
    env.update(extra)
    return env


def emulator_env(home: Path, emulator: Emulator, **extra: str) -> dict[str, str]:
    """``process_env`` for a real process on ``emulator`` (its REST and hosted MCP URLs) with
    the sandbox's API token; ``extra`` adds or overrides variables."""
    return process_env(
        home,
        VERTEXSMS_API_URL=emulator.api_url,
        VERTEXSMS_MCP_URL=emulator.mcp_url,
        VERTEXSMS_API_TOKEN=SANDBOX_TOKEN,
        **extra,
    )


def file_keyring_env(home: Path, emulator: Emulator, **extra: str) -> dict[str, str]:
    """``process_env`` for a real process on ``emulator`` with no token given and a file-backed
    keyring that passes for the OS keyring (``os_keyring.FileOsKeyring``, kept in
    ``home/keyring.json``; tests/support on ``PYTHONPATH`` so the process finds it): secrets are
    kept "in the keyring" as on a desktop.  ``extra`` adds or overrides variables (another
    ``PYTHON_KEYRING_BACKEND`` too)."""
    variables = {
        "PYTHON_KEYRING_BACKEND": "os_keyring.FileOsKeyring",
        "TEST_KEYRING_FILE": str(home / "keyring.json"),
        "PYTHONPATH": str(SUPPORT),
        "VERTEXSMS_API_URL": emulator.api_url,
        "VERTEXSMS_MCP_URL": emulator.mcp_url,
        **extra,
    }
    return process_env(home, **variables)


def vertex(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """One real ``vertex-stdio ARGS`` process run to its end: ``stdin`` piped in, stdout and stderr
    kept as text, its exit status left to the caller."""
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )


def keep_token(env: dict[str, str], token: str) -> None:
    """Keep ``token`` as a person does: the real ``login --token``, the token piped in."""
    done = vertex(env, "login", "--token", stdin=f"{token}\n")
    assert done.returncode == 0, done.stderr


def kept_token_env(home: Path, emulator: Emulator, token: str, **extra: str) -> dict[str, str]:
    """``file_keyring_env`` with ``token`` kept in it by the real ``login --token`` (sealed in the
    state directory, its key in the file-backed keyring), as a desktop keeps it."""
    env = file_keyring_env(home, emulator, **extra)
    keep_token(env, token)
    return env


def no_recipient_caps(home: Path) -> dict[str, str]:
    """``VERTEXSMS_POLICY`` naming a policy file (in ``home``) with the per-recipient caps off,
    for tests that text one number many times on purpose (the caps are tested in tests/vertexsms/policy)."""
    path = home / "policy-no-recipient-caps.toml"
    path.write_text("max_per_recipient_per_day = 0\nmax_per_recipient_per_hour = 0\n", encoding="utf-8")
    return {"VERTEXSMS_POLICY": str(path)}
