"""``setup --api-token`` through the real process: the token is checked and kept in the keyring, and
no config file, child argv or output holds it (nor any 8-character piece of it); the server started
from the written entry uses the kept token.  VS Code keeps its own password prompt (``inputs``).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clis import installed
from secrets_absent import assert_no_secret, assert_no_secret_in_files
from setup_command import run_setup

from bridge import file_keyring_env, process_env
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator

pytestmark = pytest.mark.slow

TOKEN = "vx-setup-5e4d3c2b1a0f9e8d7c6b"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        yield emu


def _env(home: Path, emulator: Emulator, **extra: str) -> dict[str, str]:
    return file_keyring_env(
        home,
        emulator,
        PYTHON_KEYRING_BACKEND=extra.pop("keyring", "os_keyring.FileOsKeyring"),
        BROWSER="false",
        **extra,
    )


def _run_entry(entry: dict[str, object], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The written entry's command and env, with ``call`` in place of serving: the same settings."""
    command = [str(entry["command"]), *map(str, entry["args"])]  # type: ignore[call-overload]
    full = {**env, **entry.get("env", {})}  # type: ignore[dict-item]
    return subprocess.run(
        [*command, "call", "get_sms_rates", "--arg", "country=LT"],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
        check=False,
    )


@pytest.mark.parametrize("client", ["claude-desktop", "cursor"])
def test_a_piped_token_is_kept_and_no_file_holds_it(tmp_path: Path, emulator: Emulator, client: str) -> None:
    """`setup CLIENT --write --api-token` with the token piped in: checked once, kept, the entry
    has no token at all, and the server started from that entry sends the kept token."""
    env = _env(tmp_path, emulator)
    config = (
        tmp_path
        / "cfg"
        / ("claude_desktop_config.json" if client == "claude-desktop" else ".cursor/mcp.json")
    )
    emulator.clear_journal()
    done = run_setup(env, client, "--write", "--config", str(config), "--api-token", stdin=TOKEN + "\n")
    assert done.returncode == 0, done.stderr
    assert [(s.method, s.path) for s in emulator.journal] == [("GET", "/rates/")]
    entry = json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert "env" not in entry, entry
    assert "kept in keyring (FileOsKeyring) key + encrypted file" in done.stderr
    assert_no_secret(TOKEN, done.stdout, done.stderr, shlex.join([entry["command"], *entry["args"]]))
    emulator.clear_journal()
    used = _run_entry(entry, env)
    assert used.returncode == 0, used.stdout + used.stderr
    assert [s.headers.get("x-vertexsms-token") for s in emulator.journal] == [TOKEN]
    assert_no_secret(TOKEN, used.stdout, used.stderr)
    assert assert_no_secret_in_files(TOKEN, tmp_path) >= 3


def test_a_token_on_the_command_line_is_kept_not_written_with_a_note(
    tmp_path: Path, emulator: Emulator
) -> None:
    """`--api-token VALUE` still works, but the value goes to the keyring, never the file."""
    env = _env(tmp_path, emulator)
    config = tmp_path / "claude_desktop_config.json"
    done = run_setup(env, "claude-desktop", "--write", "--config", str(config), "--api-token", TOKEN)
    assert done.returncode == 0, done.stderr
    assert "visible to other users" in done.stderr
    assert "env" not in json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert_no_secret_in_files(TOKEN, tmp_path)


def test_a_refused_token_writes_nothing(tmp_path: Path, emulator: Emulator) -> None:
    """VertexSMS refuses the token: exit 1, no config file, nothing kept."""
    env = _env(tmp_path, emulator)
    config = tmp_path / "claude_desktop_config.json"
    wrong = "vx-wrong-0000111122223333"
    done = run_setup(env, "claude-desktop", "--write", "--config", str(config), "--api-token", stdin=wrong)
    assert done.returncode == 1
    assert "VertexSMS refused this token (HTTP 401)" in done.stderr
    assert not config.exists()
    assert not (tmp_path / "keyring.json").exists()
    assert_no_secret(wrong, done.stdout, done.stderr)


def test_the_environment_token_is_never_copied(tmp_path: Path, emulator: Emulator) -> None:
    """A token in setup's own environment (no --api-token) goes nowhere: not the file, not the keyring."""
    env = _env(tmp_path, emulator, VERTEXSMS_API_TOKEN=TOKEN)
    config = tmp_path / ".cursor" / "mcp.json"
    done = run_setup(env, "cursor", "--write", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "env" not in json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert not (tmp_path / "keyring.json").exists()
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert_no_secret_in_files(TOKEN, tmp_path)


def test_without_a_keyring_the_file_store_is_named_in_the_entry(tmp_path: Path, emulator: Emulator) -> None:
    """No keyring: refused before reading unless --allow-file-store; then the entry carries
    VERTEXSMS_ALLOW_FILE_STORE=1 (no token) and its server reads the token from the 0600 file."""
    env = _env(tmp_path, emulator, keyring="keyring.backends.fail.Keyring")
    config = tmp_path / ".cursor" / "mcp.json"
    refused = run_setup(env, "cursor", "--write", "--config", str(config), "--api-token", stdin=TOKEN)
    assert refused.returncode == 1
    assert "--allow-file-store" in refused.stderr
    assert not config.exists()
    done = run_setup(
        env, "cursor", "--write", "--config", str(config), "--api-token", "--allow-file-store", stdin=TOKEN
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert entry["env"] == {"VERTEXSMS_ALLOW_FILE_STORE": "1"}
    emulator.clear_journal()
    assert _run_entry(entry, env).returncode == 0
    assert [s.headers.get("x-vertexsms-token") for s in emulator.journal] == [TOKEN]
    plain = tmp_path / "state" / "vertex-stdio" / "secrets.json"
    assert_no_secret_in_files(TOKEN, tmp_path, skip=[plain])


def test_vscode_still_asks_with_its_own_password_prompt(tmp_path: Path, emulator: Emulator) -> None:
    """VS Code keeps its ``inputs`` prompt: nothing is read from stdin and nothing kept by us."""
    env = _env(tmp_path, emulator)
    work = tmp_path / "project"
    work.mkdir()
    done = run_setup(env, "vscode", "--write", "--api-token", stdin=TOKEN, cwd=work)
    assert done.returncode == 0, done.stderr
    data = json.loads((work / ".vscode" / "mcp.json").read_text())
    assert data["servers"]["vertexsms"]["env"] == {"VERTEXSMS_API_TOKEN": "${input:vertexsms-token}"}
    assert not (tmp_path / "keyring.json").exists()
    assert_no_secret_in_files(TOKEN, tmp_path)


def test_claude_code_gets_no_token_in_argv_or_its_config(tmp_path: Path, emulator: Emulator) -> None:
    """The real ``claude mcp add``: its argv (the printed command) and ~/.claude.json hold no token
    and no reference to one; the token is in our keyring."""
    claude = installed("claude")
    env = _env(
        tmp_path,
        emulator,
        PATH=f"{claude.parent}:{process_env(tmp_path)['PATH']}",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    done = run_setup(env, "claude-code", "--write", "--api-token", stdin=TOKEN)
    assert done.returncode == 0, done.stderr
    assert "VERTEXSMS_API_TOKEN" not in done.stdout  # the argv claude was run with
    entry = json.loads((tmp_path / ".claude.json").read_text())["mcpServers"]["vertexsms"]
    assert "VERTEXSMS_API_TOKEN" not in json.dumps(entry)
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert_no_secret_in_files(TOKEN, tmp_path)
