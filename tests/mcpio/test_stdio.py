"""The real ``vertex-stdio`` process over stdio: only JSON-RPC on stdout, prompt exit on EOF."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from bridge import emulator_env, ok, process_env, rpc
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator

pytestmark = pytest.mark.anyio
TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"


def assert_all_jsonrpc(stdout: bytes) -> list[dict[str, object]]:
    """Every line of ``stdout`` is one JSON-RPC 2.0 message; returns them."""
    assert stdout.endswith(b"\n"), "stdout must end with a complete line"
    messages = []
    for line in stdout.splitlines():
        message = json.loads(line)
        assert isinstance(message, dict), line[:200]
        assert message.get("jsonrpc") == "2.0", line[:200]
        messages.append(message)
    return messages


@pytest.mark.slow
def test_raw_session_stdout_is_pure_and_eof_exits(emulator: Emulator, tmp_path: Path) -> None:
    """A scripted session: every stdout line is JSON-RPC, logs go to stderr, EOF ends the process."""
    env = emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_LOG_LEVEL="DEBUG",
    )
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vertex_stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=env,
        )
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    script = (
        rpc(1, "initialize", init)
        + rpc(None, "notifications/initialized")
        + rpc(2, "tools/list")
        + rpc(3, "tools/call", {"name": "get_sms_rates", "arguments": {"country": "LT"}})
        + rpc(4, "tools/call", {"name": "get_mobile_prefixes", "arguments": {"country": "LV"}})
        + rpc(5, "tools/call", {"name": "send_sms", "arguments": {"to": "1"}})
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(script)
    proc.stdin.flush()
    answers: dict[object, dict[str, object]] = {}
    deadline = time.monotonic() + 30
    while len(answers) < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        message = assert_all_jsonrpc(line)[0]
        answers[message.get("id")] = message
    closed_at = time.monotonic()
    proc.stdin.close()
    try:
        proc.wait(timeout=15)
    finally:
        proc.kill()
    exit_seconds = time.monotonic() - closed_at
    rest = proc.stdout.read()
    proc.stdout.close()
    if rest:
        assert_all_jsonrpc(rest)
    stderr = stderr_path.read_bytes()
    assert set(answers) == {1, 2, 3, 4, 5}
    assert len(answers[2]["result"]["tools"]) == 12  # type: ignore[index]
    assert answers[3]["result"]["isError"] is False  # type: ignore[index]
    assert answers[4]["result"]["structuredContent"]["country"] == "LV"  # type: ignore[index]
    assert answers[5]["result"]["isError"] is True  # type: ignore[index]
    assert proc.returncode == 0
    assert exit_seconds < 5, f"took {exit_seconds:.1f}s to exit after stdin EOF"
    assert b"serving over stdio" in stderr
    assert SANDBOX_TOKEN.encode() not in stderr
    log_file = tmp_path / "logs" / "vertex-stdio.log"
    assert log_file.exists()
    assert log_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
    assert SANDBOX_TOKEN not in log_file.read_text()


@pytest.mark.slow
async def test_sdk_client_over_stdio_with_tee(emulator: Emulator, tmp_path: Path) -> None:
    """The SDK's own stdio client lists and calls tools; the captured stdout is pure JSON-RPC."""
    copy = tmp_path / "stdout.bin"
    env = emulator_env(
        tmp_path,
        emulator,
        TEE_STDOUT_FILE=str(copy),
    )
    params = StdioServerParameters(command=sys.executable, args=[str(TESTS / "stdio_tee.py")], env=env)
    async with Client(params, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        rates = ok(await client.call_tool("get_sms_rates", {"country": "PL"}))
        corrected = ok(
            await client.call_tool(
                "correct_phone_number", {"numbers": [{"number": "+48 512 345 678", "country": "PL"}]}
            )
        )
    assert len(tools) == 12  # the ten hosted tools, quote_sms and get_sms_status
    assert rates["country"] == "PL"
    assert corrected["results"][0]["number_e164"] == "+48512345678"
    messages = assert_all_jsonrpc(copy.read_bytes())
    assert len(messages) >= 4


@pytest.mark.slow
async def test_sandbox_process_marks_every_result(tmp_path: Path) -> None:
    """``serve --sandbox`` needs no account; results say they are emulated."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vertex_stdio", "serve", "--sandbox"],
        env=process_env(tmp_path, VERTEXSMS_API_URL="https://api.vertexsms.com"),
    )
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool(
            "send_sms", {"to": "+37069912345", "from": "VERTEXSMS", "message": "Hi"}
        )
        tools = (await client.list_tools()).tools
    sent = ok(result)
    assert sent["message_id"].startswith("sandbox-")
    notes = [c.text for c in result.content if isinstance(c, TextContent)]
    assert any("[SANDBOX]" in n for n in notes)
    assert result.meta == {"vertex-stdio/sandbox": True}
    assert all((t.description or "").startswith("[SANDBOX") for t in tools)


@pytest.mark.slow
def test_call_command_prints_json(tmp_path: Path) -> None:
    """``vertex-stdio call`` runs one tool with the same routing and prints JSON (exit 0 / 1)."""
    env = process_env(tmp_path)
    good = subprocess.run(
        [
            sys.executable,
            "-m",
            "vertex_stdio",
            "call",
            "get_operator",
            "--arg",
            "operatorId=1101",
            "--sandbox",
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stderr.decode()
    assert json.loads(good.stdout)["operator_id"] == 1101
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "vertex_stdio",
            "call",
            "get_sms_rates",
            "--json",
            '{"country": "lt"}',
            "--sandbox",
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"]["code"] == "INVALID_INPUT"
    usage = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "call", "get_operator", "--arg", "novalue"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
    assert usage.stdout == b""
