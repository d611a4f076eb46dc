"""The real ``vertex-stdio`` process as a person and a client meet it: only the capabilities it has,
unknown arguments refused, a bad setting reported on every call, a hint and a quiet Ctrl-C in a
terminal, no library chatter on stderr, and ``call --arg`` following the tool's schema."""

from __future__ import annotations

import json
import os
import pty
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clis import FOLDER, installed

from bridge import emulator_env, process_env, rpc
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
COMMAND = [sys.executable, "-m", "vertex_stdio"]


def session(
    env: dict[str, str], *requests: bytes, args: tuple[str, ...] = ()
) -> tuple[dict[Any, Any], str, int]:
    """``initialize``, then ``requests`` to a real process; once all are answered, close stdin.

    Returns the answers by id, stderr and the exit code.
    """
    stderr_path = Path(env["HOME"]) / "session-stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [*COMMAND, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(rpc(0, "initialize", INIT) + rpc(None, "notifications/initialized") + b"".join(requests))
    proc.stdin.flush()
    answers: dict[Any, Any] = {}
    try:
        while len(answers) < len(requests) + 1:
            line = proc.stdout.readline()  # bounded by the wait below: EOF when the process dies
            if not line:
                break
            message = json.loads(line)
            answers[message.get("id")] = message
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    return answers, stderr_path.read_text(), proc.returncode


def _error(answer: dict[str, Any]) -> dict[str, Any]:
    result = answer["result"]
    assert result["isError"] is True
    error: dict[str, Any] = json.loads(result["content"][0]["text"])["error"]
    return error


@pytest.mark.slow
def test_initialize_advertises_only_tools(tmp_path: Path) -> None:
    """The server has tools and nothing else, so it advertises nothing else (prompts/list is unknown)."""
    env = process_env(tmp_path, VERTEXSMS_API_TOKEN=SANDBOX_TOKEN)
    answers, _, code = session(env, rpc(1, "prompts/list"), rpc(2, "resources/list"), rpc(3, "tools/list"))
    assert code == 0
    assert set(answers[0]["result"]["capabilities"]) == {"tools"}
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["error"]["code"] == -32601
    assert len(answers[3]["result"]["tools"]) == len(TOOL_NAMES)


@pytest.mark.slow
def test_unknown_arguments_are_refused_over_stdio(emulator: Emulator, tmp_path: Path) -> None:
    """tools/call with arguments the schema does not declare: INVALID_INPUT naming them, nothing sent."""
    env = emulator_env(
        tmp_path,
        emulator,
    )
    send = {"to": "+37069912345", "from": "ACME", "message": "hi", "testMode": "1", "dlrUrl": "x"}
    answers, _, _ = session(
        env,
        rpc(1, "tools/call", {"name": "send_sms", "arguments": send}),
        rpc(2, "tools/call", {"name": "get_sms_rates", "arguments": {"country": "LT"}}),
    )
    error = _error(answers[1])
    assert error["code"] == "INVALID_INPUT"
    assert error["fields"] == ["dlrUrl", "testMode"]
    assert "`dlrUrl`, `testMode`" in error["message"]
    assert "`from`" in error["message"]  # it lists what the tool does take
    assert answers[2]["result"]["isError"] is False
    assert emulator.journal_for("POST", "/sms") == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VERTEXSMS_LOG_LEVEL", "verbose"),
        ("VERTEXSMS_TEST_MODE", "3"),
        ("VERTEXSMS_API_URL", "http://api.example.com"),
    ],
)
@pytest.mark.slow
def test_a_bad_setting_is_told_on_every_call(tmp_path: Path, variable: str, value: str) -> None:
    """A typo in the bundle's form: the server starts, lists its tools, and every call names the setting."""
    env = process_env(tmp_path, **{variable: value})
    answers, stderr, code = session(
        env,
        rpc(1, "tools/list"),
        rpc(2, "tools/call", {"name": "get_sms_rates", "arguments": {"country": "LT"}}),
        rpc(3, "tools/call", {"name": "send_sms", "arguments": {"to": "1"}}),
    )
    assert code == 0
    assert len(answers[1]["result"]["tools"]) == len(TOOL_NAMES)
    for request_id in (2, 3):
        error = _error(answers[request_id])
        assert error["code"] == "INVALID_INPUT"
        assert error["setting"] == variable
        assert variable in error["message"]
        assert "restart" in error["message"]
    assert variable in stderr


@pytest.mark.slow
def test_a_bad_option_on_the_command_line_is_still_a_usage_error(tmp_path: Path) -> None:
    """Typed by a person (not from the environment), a bad value exits 2 at once."""
    done = subprocess.run(
        [*COMMAND, "serve", "--log-level", "verbose"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        env=process_env(tmp_path),
        check=False,
    )
    assert done.returncode == 2
    assert "VERTEXSMS_LOG_LEVEL" in done.stderr.decode()


def _interrupt(env: dict[str, str], *, tty: bool, args: tuple[str, ...] = ()) -> tuple[int, str]:
    """Start ``serve`` (stdin a pty or a pipe), wait until it serves, send SIGINT; exit code, stderr."""
    stderr_path = Path(env["HOME"]) / "stderr.txt"
    if tty:
        ours, theirs = pty.openpty()
    else:
        theirs, ours = os.pipe()  # the child reads; we hold the write end open
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [*COMMAND, "serve", *args], stdin=theirs, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
    os.close(theirs)
    try:
        deadline = time.monotonic() + 30
        while b"serving over stdio" not in stderr_path.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    finally:
        proc.kill()
        os.close(ours)
    assert proc.stdout is not None
    assert proc.stdout.read() == b""
    proc.stdout.close()
    return proc.returncode, stderr_path.read_text()


@pytest.mark.slow
def test_in_a_terminal_serve_says_what_it_waits_for_and_ctrl_c_is_quiet(tmp_path: Path) -> None:
    """stdin a TTY: a hint on stderr (how to try it), and Ctrl-C exits 130 without a traceback."""
    code, stderr = _interrupt(process_env(tmp_path), tty=True, args=("--sandbox",))
    assert code == 130
    assert "waiting for an MCP client" in stderr
    assert "call get_sms_rates --sandbox --arg country=LT" in stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr


@pytest.mark.slow
def test_under_a_client_there_is_no_hint_and_sigint_is_quiet_too(tmp_path: Path) -> None:
    """stdin a pipe (a client): no hint; SIGINT still exits 130 quietly."""
    code, stderr = _interrupt(
        process_env(tmp_path, VERTEX_STDIO_LEAN="1", VERTEXSMS_API_TOKEN=SANDBOX_TOKEN), tty=False
    )
    assert code == 130, stderr
    assert "waiting for an MCP client" not in stderr
    assert "Traceback" not in stderr
    # the signal reached the session's own handler (the "serving" line is logged once it is set),
    # not a KeyboardInterrupt somewhere in the event loop's start
    assert "vertex-stdio exits (Ctrl-C)" in stderr


@pytest.mark.slow
def test_the_hinted_commands_work(tmp_path: Path) -> None:
    """The hint's ``call`` command runs as printed; so does its MCP Inspector command (when npx can fetch it)."""
    master, slave = pty.openpty()
    env = process_env(tmp_path)
    proc = subprocess.Popen([*COMMAND, "serve"], stdin=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline().decode() for _ in range(3)]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        finally:  # never left running when it did not exit: a later test would inherit it
            proc.kill()
            proc.wait()
            os.close(master)
            if proc.stderr is not None:
                proc.stderr.close()
    call, inspector = (shlex.split(line.strip()) for line in lines[1:3])
    done = subprocess.run(call, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["country"] == "LT"
    installed("mcp-inspector")  # npx then runs the pinned copy in tests/support/client_clis, offline
    listed = subprocess.run(
        inspector, capture_output=True, text=True, timeout=120, env=env, cwd=FOLDER, check=False
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["tools"]) == len(TOOL_NAMES)


@pytest.mark.slow
@pytest.mark.parametrize(("level", "chatter"), [("INFO", False), ("DEBUG", True)])
def test_library_chatter_stays_off_stderr_unless_debug(tmp_path: Path, level: str, chatter: bool) -> None:
    """In the sandbox, uvicorn's and the SDK's INFO lines reach stderr only with --log-level DEBUG."""
    env = process_env(tmp_path, VERTEXSMS_LOG_LEVEL=level)
    answers, stderr, code = session(
        env,
        rpc(1, "tools/call", {"name": "get_sms_rates", "arguments": {"country": "LT"}}),
        args=("--sandbox",),
    )
    assert code == 0
    assert answers[1]["result"]["isError"] is False
    assert ("uvicorn" in stderr) is chatter
    assert "serving over stdio" in stderr


@pytest.mark.slow
def test_call_args_follow_the_tool_schema(tmp_path: Path) -> None:
    """``--arg from=12345 --arg message=12345`` stay text (the schema says string); unknown ones are refused."""
    env = process_env(tmp_path)
    send = ["--arg", "to=+37069912345", "--arg", "from=12345", "--arg", "message=12345"]
    done = subprocess.run(
        [*COMMAND, "call", "send_sms", "--sandbox", *send],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "sent"
    refused = subprocess.run(
        [*COMMAND, "call", "get_sms_rates", "--sandbox", "--arg", "country=LT", "--arg", "zone=1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert (error["code"], error["fields"]) == ("INVALID_INPUT", ["zone"])


# Ctrl-C while a weakref callback runs, as imports run thousands (importlib's module locks), while
# the server is built after the hint: the same ``vertex-stdio serve`` (cli.run), the signal sent there.
_CTRL_C_IN_A_CALLBACK = """
import os, signal, sys, weakref
from vertex_stdio.app.cli import run

class Bait: pass
bait = [Bait()]

def callback(_ref):
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):  # Python runs the signal's handler here, inside the callback
        pass

ref = weakref.ref(bait[0], callback)

def hook(event, args):
    if event == "import" and args[0] == "vertex_stdio.vertexsms.server" and bait:
        bait.clear()

sys.addaudithook(hook)
sys.argv = ["vertex-stdio", "serve"]
run()
"""


@pytest.mark.slow
def test_ctrl_c_while_the_sdk_loads_exits_even_inside_a_callback(tmp_path: Path) -> None:
    """Ctrl-C in a terminal before the session's own handler exits 130 wherever it lands: a
    KeyboardInterrupt raised in a weakref callback would be ignored and serving would go on."""
    env = process_env(tmp_path)
    stderr_path = tmp_path / "stderr.txt"
    ours, theirs = pty.openpty()
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CTRL_C_IN_A_CALLBACK], stdin=theirs, stderr=stderr, env=env
        )
    os.close(theirs)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    finally:
        proc.kill()
        proc.wait()
        os.close(ours)
    err = stderr_path.read_text()
    assert proc.returncode == 130, err
    assert "waiting for an MCP client" in err  # the hint came first: this was serve's terminal path
    assert "serving over stdio" not in err
    assert "KeyboardInterrupt" not in err
