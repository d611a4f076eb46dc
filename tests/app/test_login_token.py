"""``vertex-stdio login --token`` through the real process, against the sandbox emulator.

The child's keyring is a file-backed backend with a real keyring's priority (``os_keyring``), so
the token is kept exactly as on a desktop: sealed in the state directory, its key in the keyring.
Every file the process leaves, its output and its logs are read back for the token or any
8-character piece of it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from secrets_absent import assert_no_secret, assert_no_secret_in_files
from stdio_server import Server

from bridge import file_keyring_env, kept_token_env, rpc, vertex
from vertex_stdio.core.launcher import launcher
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator

pytestmark = pytest.mark.slow

TOKEN = "vx-live-9f8e7d6c5b4a39281706"
OTHER = "vx-env-0a1b2c3d4e5f60718293"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES, OTHER: ALL_SCOPES}) as emu:
        yield emu


def _env(home: Path, emulator: Emulator, **extra: str) -> dict[str, str]:
    return file_keyring_env(home, emulator, BROWSER="false", **extra)


def _rates(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return vertex(env, "call", "get_sms_rates", "--arg", "country=LT")


def _tokens_seen(emulator: Emulator) -> list[str | None]:
    return [seen.headers.get("x-vertexsms-token") for seen in emulator.journal]


def test_a_piped_token_is_checked_kept_used_shown_and_forgotten(tmp_path: Path, emulator: Emulator) -> None:
    """Piped in: checked once (one GET), kept sealed, used by `call`, named by `status` (never the
    value), forgotten by `logout`; no file, output or log holds the token or a piece of it."""
    env = _env(tmp_path, emulator)
    emulator.clear_journal()
    done = vertex(env, "login", "--token", stdin=TOKEN + "\n")
    assert done.returncode == 0, done.stderr
    assert "Kept your VertexSMS API token in keyring (FileOsKeyring) key + encrypted file" in done.stdout
    assert [(s.method, s.path) for s in emulator.journal] == [("GET", "/rates/")]
    assert _tokens_seen(emulator) == [TOKEN]

    status = vertex(env, "status")
    assert status.returncode == 0, status.stdout
    assert "API token: kept in keyring (FileOsKeyring) key + encrypted file" in status.stdout
    as_json = json.loads(vertex(env, "status", "--json").stdout)
    assert as_json["api_token_kept_in"].startswith("keyring (FileOsKeyring) key + encrypted file")

    doctor = {c["name"]: c for c in json.loads(vertex(env, "doctor", "--json").stdout)["checks"]}
    assert doctor["api token"]["status"] == "ok"
    assert doctor["api token"]["detail"].startswith("kept by login --token in keyring (FileOsKeyring)")
    assert doctor["sign-in"]["status"] == "skip"  # the kept token outranks it

    emulator.clear_journal()
    call = _rates(env)
    assert call.returncode == 0, call.stdout + call.stderr
    assert json.loads(call.stdout)["country"] == "LT"
    assert _tokens_seen(emulator) == [TOKEN]  # the kept token, without VERTEXSMS_API_TOKEN

    outputs = [done.stdout, done.stderr, status.stdout, status.stderr, call.stdout, call.stderr]
    assert_no_secret(TOKEN, *outputs)
    assert assert_no_secret_in_files(TOKEN, tmp_path) >= 3  # keyring, sealed file, state, logs

    browser = vertex(env, "login")  # a browser sign-in would never be used while a token is kept
    assert browser.returncode == 0
    assert f"Run `{launcher()} logout` first to sign in with your browser instead." in browser.stdout

    logout = vertex(env, "logout")
    assert logout.returncode == 0, logout.stdout
    assert logout.stdout.splitlines() == [
        f"Forgot the API token kept in {as_json['api_token_kept_in']}.",
        "You were not signed in with a browser; nothing to sign out of there.",
    ]
    after = vertex(env, "status", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["api_token_kept_in"] is None
    assert not (tmp_path / "state" / "vertex-stdio" / "secrets.sealed").exists()  # its only entry went


def test_a_kept_token_vertexsms_no_longer_takes_says_how_to_replace_it(tmp_path: Path) -> None:
    """Revoked after it was kept: AUTH_INVALID naming `login --token` (and `logout` before a browser
    sign-in, which the kept token would otherwise outrank)."""
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        env = kept_token_env(tmp_path, emu, TOKEN, BROWSER="false")
        emu.remove_token(TOKEN)
        call = _rates(env)
    error = json.loads(call.stdout)["error"]
    assert error["code"] == "AUTH_INVALID"
    assert f"`{launcher()} login --token`" in error["message"]
    assert f"`{launcher()} logout` first" in error["message"]
    assert_no_secret(TOKEN, call.stdout, call.stderr)


def test_the_server_serves_with_the_kept_token(tmp_path: Path, emulator: Emulator) -> None:
    """`serve` over stdio (what a client starts, entry without any token): its first log line
    names the kept token, a tool call reaches VertexSMS with it, and stdout stays JSON-RPC."""
    env = kept_token_env(tmp_path, emulator, TOKEN, BROWSER="false")
    emulator.clear_journal()
    server = Server(env, tmp_path)
    try:
        server.initialize()
        server.send(rpc("rates", "tools/call", {"name": "get_sms_rates", "arguments": {"country": "LT"}}))
        answer = server.answers({"rates"}, timeout=30)["rates"]
        assert answer["result"]["isError"] is False, answer
        assert _tokens_seen(emulator) == [TOKEN]
        server.close_stdin()
    finally:
        server.finish()
    assert "tokens: api-token (kept by login --token)" in server.diagnostics
    assert_no_secret(TOKEN, server.diagnostics, bytes(server.raw).decode())


def test_the_environment_token_wins_over_the_kept_one(tmp_path: Path, emulator: Emulator) -> None:
    """Precedence: VERTEXSMS_API_TOKEN, then the kept token (then browser sign-in)."""
    env = kept_token_env(tmp_path, emulator, TOKEN, BROWSER="false")
    emulator.clear_journal()
    assert _rates({**env, "VERTEXSMS_API_TOKEN": OTHER}).returncode == 0
    assert _tokens_seen(emulator) == [OTHER]
    status = vertex({**env, "VERTEXSMS_API_TOKEN": OTHER}, "status")
    assert "VERTEXSMS_API_TOKEN is set, so the server uses it" in status.stdout
    assert_no_secret(OTHER, status.stdout, status.stderr)


@pytest.mark.parametrize("given", ["not-a-known-token-123456", "two words here", ""])
def test_a_refused_token_is_not_kept(tmp_path: Path, emulator: Emulator, given: str) -> None:
    """Refused by VertexSMS (401), or not a token at all: exit 1 saying so, nothing kept anywhere."""
    env = _env(tmp_path, emulator)
    done = vertex(env, "login", "--token", stdin=given)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Not kept: ")
    if given.startswith("not-a-known"):
        assert "VertexSMS refused this token (HTTP 401)" in done.stderr
    assert not (tmp_path / "keyring.json").exists()
    assert not (tmp_path / "state" / "vertex-stdio" / "secrets.sealed").exists()
    for word in given.split():
        assert_no_secret(word, done.stdout, done.stderr)
    assert json.loads(vertex(env, "status", "--json").stdout)["api_token_kept_in"] is None


@pytest.mark.parametrize("argv", [["--token", TOKEN], [f"--token={TOKEN}"]])
def test_a_token_in_argv_is_a_usage_error_saying_how_to_pipe_it(
    tmp_path: Path, emulator: Emulator, argv: list[str]
) -> None:
    """Never from argv: exit 2, the way to pipe it named with this installation's launcher."""
    env = _env(tmp_path, emulator)
    emulator.clear_journal()
    done = vertex(env, "login", *argv)
    assert done.returncode == 2
    assert "--token takes no value" in done.stderr
    assert f"| {launcher()} login --token`" in done.stderr  # the launcher that runs here
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert emulator.journal == []
    assert not (tmp_path / "keyring.json").exists()


@pytest.mark.parametrize("argv", [["--token"], ["--token", TOKEN]], ids=["piped", "in-argv"])
def test_token_with_a_server_is_a_usage_error_naming_what_to_use(
    tmp_path: Path, emulator: Emulator, argv: list[str]
) -> None:
    """``login --server X --token`` was routed to the server's sign-in with --token ignored: now it
    is exit 2 before anything is read or sent, naming the browser sign-in and ``--header``."""
    env = _env(tmp_path, emulator)
    emulator.clear_journal()
    done = vertex(env, "login", "--server", "http://127.0.0.1:9/mcp", *argv, stdin=f"{TOKEN}\n")
    assert done.returncode == 2, done.stderr
    assert "it is not for `login --server`" in done.stderr
    assert f"`{launcher()} login --server http://127.0.0.1:9/mcp`" in done.stderr
    assert "--header NAME=VAR" in done.stderr
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert emulator.journal == []
    assert not (tmp_path / "keyring.json").exists()


def test_without_a_keyring_it_asks_for_the_file_store_before_reading(
    tmp_path: Path, emulator: Emulator
) -> None:
    """No usable keyring: exit 1 before the token is read; with --allow-file-store it goes to the
    0600 file, and a server with VERTEXSMS_ALLOW_FILE_STORE=1 uses it."""
    env = _env(tmp_path, emulator, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    emulator.clear_journal()
    refused = vertex(env, "login", "--token", stdin=TOKEN)
    assert refused.returncode == 1
    assert "--allow-file-store" in refused.stderr
    assert emulator.journal == []  # not even checked
    kept = vertex(env, "login", "--token", "--allow-file-store", stdin=TOKEN)
    assert kept.returncode == 0, kept.stderr
    plain = tmp_path / "state" / "vertex-stdio" / "secrets.json"
    assert f"kept your vertexsms api token in file ({plain})" in kept.stdout.lower()
    assert "VERTEXSMS_ALLOW_FILE_STORE=1" in kept.stdout
    assert oct(plain.stat().st_mode & 0o777) == "0o600"
    status = vertex(env, "status")
    assert f"API token: kept in file ({plain}) (since " in status.stdout
    unread = json.loads(_rates(env).stdout)["error"]  # the server without the setting
    assert unread["code"] == "AUTH_REQUIRED"
    assert "set VERTEXSMS_ALLOW_FILE_STORE=1 in the client's config" in unread["message"]
    emulator.clear_journal()
    assert _rates({**env, "VERTEXSMS_ALLOW_FILE_STORE": "1"}).returncode == 0
    assert _tokens_seen(emulator) == [TOKEN]
    assert_no_secret_in_files(TOKEN, tmp_path, skip=[plain])
    assert vertex(env, "logout").returncode == 0
    assert not plain.exists()


def test_at_a_terminal_the_prompt_does_not_echo_the_token(tmp_path: Path, emulator: Emulator) -> None:
    """A person at a terminal: a hidden prompt (getpass) on the process's own terminal; the token
    typed there is never written back to it."""
    env = _env(tmp_path, emulator)
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "vertex_stdio", "login", "--token"], env)  # noqa: S606
    seen = _read_until(fd, b"press Enter")
    os.write(fd, TOKEN.encode() + b"\r")
    seen += _read_until(fd, b"logout")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert "(it is not shown)" in text
    assert "Kept your VertexSMS API token" in text, text
    assert os.waitstatus_to_exitcode(status) == 0
    assert_no_secret(TOKEN, text)


def _read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    """Terminal output until ``marker`` (or end of output, or ``timeout``)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data
