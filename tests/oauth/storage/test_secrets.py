"""Secret hygiene with a pasted token: a full DEBUG session, the terminal commands, and every error, scanned for the token."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stdio_server import SEND, Server

from bridge import process_env, rpc, vertex
from vertex_stdio.vertexsms.sandbox import Emulator, Fault
from vertex_stdio.vertexsms.sandbox.state import ALL_SCOPES

CANARY = "VTX-CANARY-" + uuid.uuid4().hex


def echo(status: int, **extra: Any) -> Fault:
    """An upstream answer that quotes the token back, as careless error pages do."""
    body = json.dumps({"message": f"token {CANARY} is not valid here", "token": CANARY}).encode()
    return Fault(status=status, body=body, headers={"content-type": "application/json"}, **extra)


def assert_no_canary(where: str, text: str) -> None:
    """Neither the token nor any 12-character piece of it appears in ``text``."""
    assert CANARY not in text, f"the token leaked into {where}"
    pieces = {CANARY[i : i + 12] for i in range(len("VTX-CANARY-") - 4, len(CANARY) - 11)}
    leaked = [p for p in pieces if p in text]
    assert not leaked, f"part of the token leaked into {where}: {leaked[:3]}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={CANARY: ALL_SCOPES}) as emu:
        yield emu


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> Iterator[dict[str, str]]:
    emulator.clear_faults()
    yield process_env(
        tmp_path,
        VERTEXSMS_API_URL=emulator.api_url,
        VERTEXSMS_MCP_URL=emulator.mcp_url,
        VERTEXSMS_API_TOKEN=CANARY,
        VERTEXSMS_LOG_LEVEL="DEBUG",
        VERTEXSMS_HTTP_TIMEOUT="1",
    )
    emulator.clear_faults()


def _call(server: Server, id_: int, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    server.send(rpc(id_, "tools/call", {"name": tool, "arguments": args}))
    return server.answers({id_})[id_]


@pytest.mark.slow
def test_serve_session_never_shows_the_token(emulator: Emulator, env: dict[str, str], tmp_path: Path) -> None:
    """Successes, 401/400/5xx echoing the token, timeouts and hosted-MCP failures at DEBUG: no output holds the token."""
    server = Server(env, tmp_path)
    try:
        server.initialize()
        results = [
            _call(server, 1, "get_sms_rates", {"country": "LT"}),
            _call(server, 2, "send_sms", SEND),
            _call(server, 3, "get_mobile_prefixes", {"country": "LT"}),
            _call(server, 4, "correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}),
        ]
        assert all(r["result"]["isError"] is False for r in results)
        faults = [
            (echo(401, method="POST", path="/sms"), "send_sms", SEND),
            (echo(400, method="POST", path="/sms"), "send_sms", SEND),
            (echo(403, method="GET", path="/operators/1101"), "get_operator", {"operatorId": 1101}),
            (echo(503, method="GET", path="/operators/1101", times=3), "get_operator", {"operatorId": 1101}),
            (echo(422, method="POST", path="/senderId"), "register_msisdn_sender", {"msisdn": "37069555555"}),
            (
                Fault(method="GET", path="/operators/1101", delay=3, times=None),
                "get_operator",
                {"operatorId": 1101},
            ),
            (Fault(method="POST", path="/sms", drop=True), "send_sms", SEND),
            (echo(401, method="POST", path="/mcp", times=None), "get_mobile_prefixes", {"country": "LT"}),
            (echo(500, method="POST", path="/mcp", times=None), "get_mobile_prefixes", {"country": "LV"}),
            (
                Fault(method="POST", path="/mcp", drop=True, times=None),
                "get_mobile_prefixes",
                {"country": "PL"},
            ),
        ]
        for number, (fault, tool, args) in enumerate(faults, start=10):
            emulator.clear_faults()
            emulator.inject(fault)
            answer = _call(server, number, tool, args)
            assert answer["result"]["isError"] is True, (tool, fault)
        emulator.clear_faults()
        server.send(b"not json\n" + rpc(99, "tools/call", {"name": "nope", "arguments": {"token": CANARY}}))
        server.answers({None, 99})
        assert server.tools_listed("end")
        assert server.close_stdin() < 10
    finally:
        server.finish()
    stdout = bytes(server.raw).decode()
    assert_no_canary("stdout (tool results and errors)", stdout)
    assert_no_canary("stderr and the log file", server.diagnostics)
    assert "DEBUG" in server.diagnostics  # the scan covered debug logging
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_canary(str(path), path.read_bytes().decode("utf-8", errors="replace"))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return vertex(env, *args, timeout=60)


@pytest.mark.slow
def test_terminal_commands_never_show_the_token(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """``call`` (success and an echoing 401), ``status`` and ``doctor``: no stdout, stderr or log line holds the token."""
    outputs = [_run(env, "call", "get_operator", "--arg", "operatorId=1101")]
    assert outputs[0].returncode == 0, outputs[0].stderr
    emulator.inject(echo(401, method="POST", path="/sms", times=None))
    outputs.append(_run(env, "call", "send_sms", "--json", json.dumps(SEND)))
    assert outputs[-1].returncode == 1
    assert json.loads(outputs[-1].stdout)["error"]["code"] == "AUTH_INVALID"
    emulator.clear_faults()
    outputs.append(_run(env, "status"))
    outputs.append(_run(env, "status", "--json"))
    outputs.append(_run(env, "doctor"))
    outputs.append(_run(env, "doctor", "--json"))
    outputs.append(_run(env, "--api-token", CANARY, "status"))
    for done in outputs:
        assert_no_canary(f"{done.args[3:]} stdout", done.stdout)
        assert_no_canary(f"{done.args[3:]} stderr", done.stderr)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_canary(str(path), path.read_bytes().decode("utf-8", errors="replace"))


HEADER_SCRIPT = """
import logging, sys, httpx2
from vertex_stdio.core import logs
logs.configure("DEBUG")
levels = [logging.getLogger(n).getEffectiveLevel() for n in ("httpx2", "httpcore2")]
assert levels == [logging.WARNING, logging.WARNING], levels
for name in ("httpx2", "httpcore2"):  # as if someone turned them up: the filter must still hold
    logging.getLogger(name).setLevel(logging.DEBUG)
token = sys.argv[2]  # never registered: only the header patterns can catch it
headers = {"X-VertexSMS-Token": token, "Authorization": "Bearer " + token}
with httpx2.Client() as client:
    response = client.get(sys.argv[1] + "/operators/1101", headers=headers)
logging.getLogger("vertex_stdio.test").debug("request headers: %s", list(response.request.headers.raw))
logging.getLogger("vertex_stdio.test").debug("as a dict: %s", dict(response.request.headers))
"""


@pytest.mark.slow
def test_debug_logs_redact_token_headers(emulator: Emulator, env: dict[str, str], tmp_path: Path) -> None:
    """At DEBUG, even with httpx2/httpcore2 turned up and an unregistered token, header values are redacted."""
    unregistered = "UNREGISTERED-" + uuid.uuid4().hex
    emulator.add_token(unregistered, ALL_SCOPES)
    try:
        done = subprocess.run(
            [sys.executable, "-c", HEADER_SCRIPT, emulator.api_url, unregistered],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        emulator.remove_token(unregistered)
    assert done.returncode == 0, done.stderr
    logged = done.stderr + (tmp_path / "logs" / "vertex-stdio.log").read_text()
    assert "x-vertexsms-token" in logged.lower()  # the headers were logged...
    assert unregistered not in logged  # ...with their values redacted
    assert "[redacted]" in logged
