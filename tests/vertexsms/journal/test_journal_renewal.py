"""One POST, one journal record: a billable call refused for its token (401, or 403
``insufficient_scope``) and made again after the sign-in renewed, through the real process, a
loopback VertexSMS (the emulator, answering one refusal) and a real authorization server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oauth_server.harness import AuthServer, node_ready

from bridge import process_env
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

SEND = {"to": "+37060000001", "from": "ACME", "message": "Your table is ready"}
HLR = {"msisdn": "+37060000002", "callBackUrl": "https://example.com/hlr"}
PIN = {"msisdn": "+37060000003"}
REFUSALS = {
    "expired": (401, 'Bearer error="invalid_token"', ()),
    "step-up": (
        403,
        'Bearer error="insufficient_scope", scope="sms:send hlr:lookup sender:write"',
        ("--scope", "numbers:read"),
    ),
}


@pytest.fixture
def protected(as_server: AuthServer) -> Iterator[Emulator]:
    """The emulator accepting only live tokens of the test AS, with the scopes they were granted."""
    with Emulator(tokens={}, authorization_servers=[as_server.issuer]) as emu:
        emu.token_check = as_server.token_check
        yield emu


def _vertex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=90
    )


def _records(env: dict[str, str], tool: str) -> list[dict[str, Any]]:
    done = _vertex(env, "history", "--json")
    assert done.returncode == 0, done.stderr
    return sorted((r for r in json.loads(done.stdout)["records"] if r["tool"] == tool), key=lambda r: r["id"])


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize(
    ("tool", "arguments", "path"),
    [("send_sms", SEND, "/sms"), ("lookup_hlr", HLR, "/hlr"), ("register_msisdn_sender", PIN, "/senderId")],
)
def test_a_refused_billable_call_is_one_record_and_its_retry_another(
    case: str,
    tool: str,
    arguments: dict[str, str],
    path: str,
    protected: Emulator,
    browser: Path,
    tmp_path: Path,
) -> None:
    """VertexSMS refuses the first POST's token once: the sign-in renews (a refresh, or a step-up
    sign-in for the wider scope) and the call goes once more; 2 POSTs, 2 records: the first
    `refused` with its HTTP status, the second `sent` with its own id; no third POST."""
    status, challenge, login_args = REFUSALS[case]
    env = process_env(
        tmp_path / "home",
        VERTEXSMS_API_URL=protected.api_url,
        VERTEXSMS_MCP_URL=protected.mcp_url,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_SIGNIN_TIMEOUT="30",
        BROWSER=os.environ["BROWSER"],
        TEST_BROWSER_LOG=str(browser),
        TEST_BROWSER_MODE="consent",
    )
    login = _vertex(env, "login", *login_args) if login_args else _vertex(env, "login")
    assert login.returncode == 0, login.stderr
    protected.inject(
        Fault(method="POST", path=path, status=status, headers={"www-authenticate": challenge}, times=1)
    )
    done = _vertex(env, "call", tool, "--json", json.dumps(arguments))
    assert done.returncode == 0, done.stdout + done.stderr
    posts = protected.journal_for("POST", path)
    assert len(posts) == 2
    assert posts[0].headers["x-vertexsms-token"] != posts[1].headers["x-vertexsms-token"]
    first, second = _records(env, tool)
    assert first["outcome"] == "refused"
    assert f"HTTP {status}" in first["detail"]
    assert first["message_id"] is None
    assert second["outcome"] == "sent"
    assert second["message_id"]
    assert second["message_id"] in done.stdout
