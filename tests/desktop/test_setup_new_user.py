"""``setup``'s small things a new user met (issue 17), through the real ``vertex-stdio setup``:
booleans the server reads, a replaced Claude Code entry kept, a JSONC ``mcp.json`` kept, and
``--connect`` refusing VertexSMS-only options."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clis import installed
from setup_command import setup_env, setup_in

from vertex_stdio.desktop import jsonc
from vertex_stdio.vertexsms.settings import Settings


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    path.mkdir()
    return path


# --- 1. booleans as the server reads them ------------------------------------------------------

SWITCHES = [
    (["--confirm-sends", "0"], "VERTEXSMS_CONFIRM_SENDS", "confirm_sends", False),
    (["--confirm-sends", "false"], "VERTEXSMS_CONFIRM_SENDS", "confirm_sends", False),
    (["--confirm-sends", "yes"], "VERTEXSMS_CONFIRM_SENDS", "confirm_sends", True),
    (["--sandbox"], "VERTEXSMS_SANDBOX", "sandbox", True),
    (["--allow-file-store"], "VERTEXSMS_ALLOW_FILE_STORE", "allow_file_store", True),
]


@pytest.mark.slow
@pytest.mark.parametrize("client", ["cursor", "vscode", "claude-desktop"])
def test_booleans_are_written_as_the_server_reads_them(home: Path, client: str) -> None:
    """Every boolean option lands as "1"/"0", and Settings.from_env reads back the intended value."""
    config = home / {"cursor": ".cursor/mcp.json", "vscode": "work/.vscode/mcp.json"}.get(
        client, "claude_desktop_config.json"
    )
    for flags, variable, field, intended in SWITCHES:
        done = setup_in(home, client, "--write", "--config", str(config), "--name", "v", *flags)
        assert done.returncode == 0, done.stderr
        data = json.loads(config.read_text())
        env = data["servers" if client == "vscode" else "mcpServers"]["v"]["env"]
        assert env[variable] == ("1" if intended else "0")
        assert getattr(Settings.from_env(env), field) is intended


@pytest.mark.slow
def test_claude_code_command_carries_zero_not_false(home: Path) -> None:
    done = setup_in(home, "claude-code", "--confirm-sends", "off")
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout)
    assert words[words.index("-e") + 1] == "VERTEXSMS_CONFIRM_SENDS=0"
    assert Settings.from_env({"VERTEXSMS_CONFIRM_SENDS": "0"}).confirm_sends is False


# --- 4. --connect refuses VertexSMS-only options -----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags",
    [
        ["--sandbox"],
        ["--api-token", "tok-abcdef-123456789"],
        ["--max-eur-per-day", "5"],
        ["--max-parts", "3"],
        ["--test-mode", "1"],
        ["--api-url", "https://a.example.test"],
        ["--confirm-sends", "0"],
    ],
)
def test_connect_refuses_vertexsms_only_options(home: Path, flags: list[str]) -> None:
    """A usage error (exit 2) naming the option, and no file written."""
    config = home / ".cursor" / "mcp.json"
    done = setup_in(
        home,
        "cursor",
        "--write",
        "--config",
        str(config),
        "--connect",
        "https://mcp.example.test/mcp",
        *flags,
    )
    assert done.returncode == 2, done.stderr
    assert flags[0] in done.stderr
    assert "tok-abcdef" not in done.stderr + done.stdout
    assert not config.exists()


@pytest.mark.slow
def test_connect_keeps_its_own_options(home: Path) -> None:
    """Options connect itself takes still go into its entry."""
    config = home / ".cursor" / "mcp.json"
    done = setup_in(
        home,
        "cursor",
        "--write",
        "--config",
        str(config),
        "--connect",
        "https://mcp.example.test/mcp",
        "--client-id",
        "cid",
        "--allow-file-store",
        "--log-level",
        "DEBUG",
    )
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(config.read_text())["mcpServers"].values()
    assert entry["env"] == {"VERTEXSMS_ALLOW_FILE_STORE": "1", "VERTEXSMS_LOG_LEVEL": "DEBUG"}
    assert entry["args"][-2:] == ["--client-id", "cid"]


# --- 3. a VS Code mcp.json with comments (JSONC) -----------------------------------------------

USER_JSONC = """// My MCP servers; VS Code accepts comments and trailing commas here.
{
  /* the team's servers:
     keep them */
  "servers": {
    "github": {
      "type": "http",
      "url": "https://api.githubcopilot.com/mcp/", // remote
    },
    "vertexsms": {"type": "stdio", "command": "/old/vertex-stdio", "args": [],},
  },
  "inputs": [
    {"id": "other-key", "type": "promptString", "password": true}, // another server's prompt
  ],
}
"""
COMMENTS = [
    "// My MCP servers; VS Code accepts comments and trailing commas here.",
    "/* the team's servers:\n     keep them */",
    "// remote",
    "// another server's prompt",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vertexsms", "vertexsms-sandbox"])
def test_vscode_keeps_a_commented_mcp_json(home: Path, name: str) -> None:
    """Replacing or adding our entry keeps every comment, the other servers and their prompts."""
    config = home / "work" / ".vscode" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text(USER_JSONC)
    before = jsonc.loads(USER_JSONC)
    flags = ["--sandbox"] if name == "vertexsms-sandbox" else []
    done = setup_in(
        home, "vscode", "--write", "--config", str(config), "--api-token", "tok-abcdef-123456789", *flags
    )
    assert done.returncode == 0, done.stderr
    text = config.read_text()
    assert all(comment in text for comment in COMMENTS)
    after: dict[str, Any] = jsonc.loads(text)
    assert after["servers"]["github"] == before["servers"]["github"]
    assert after["servers"][name]["command"] != "/old/vertex-stdio"
    assert after["servers"][name]["env"]["VERTEXSMS_API_TOKEN"] == "${input:" + name + "-token}"
    if name != "vertexsms":
        assert after["servers"]["vertexsms"] == before["servers"]["vertexsms"]
    assert before["inputs"][0] in after["inputs"]
    assert sorted(item["id"] for item in after["inputs"]) == sorted(["other-key", f"{name}-token"])
    assert "tok-abcdef" not in text
    (backup,) = config.parent.glob("mcp.json.*.bak")
    assert backup.read_text() == USER_JSONC
    again = setup_in(
        home, "vscode", "--write", "--config", str(config), "--api-token", "tok-abcdef-123456789", *flags
    )
    assert "nothing changed" in again.stderr
    assert config.read_text() == text


def test_jsonc_strings_that_look_like_comments_are_kept() -> None:
    text = '{\n  "url": "http://a//b/*c*/", // real\n  "servers": {},\n}\n'
    out = jsonc.set_member(text, ("servers", "v"), {"command": "x"})
    assert jsonc.loads(out) == {"url": "http://a//b/*c*/", "servers": {"v": {"command": "x"}}}
    assert "// real" in out


@pytest.mark.slow
def test_a_file_malformed_even_as_jsonc_is_still_refused(home: Path) -> None:
    config = home / "work" / ".vscode" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"servers": {/* open comment\n')
    done = setup_in(home, "vscode", "--write", "--config", str(config))
    assert done.returncode == 1
    assert "left untouched" in done.stderr
    assert config.read_text() == '{"servers": {/* open comment\n'


# --- 2. claude-code --write that replaces an entry says so and keeps the old one ---------------


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The real ``claude`` (npm ``@anthropic-ai/claude-code``, pinned in tests/support/client_clis)."""
    return installed("claude")


@pytest.mark.slow
def test_claude_code_replacement_is_reported_and_the_old_entry_kept(claude_bin: Path, home: Path) -> None:
    """The user's own ``vertexsms`` entry, added with the real claude, is saved before replacement;
    the message names it and the restore command puts it back."""
    env = setup_env(home)
    run = {"capture_output": True, "text": True, "timeout": 120, "cwd": home, "env": env, "check": False}
    added = subprocess.run(
        [str(claude_bin), "mcp", "add", "--scope", "user", "vertexsms", "-e", "MINE=1", "--", "/my/own", "x"],
        stdin=subprocess.DEVNULL,
        **run,
    )  # type: ignore[call-overload]
    assert added.returncode == 0, added.stderr
    mine = json.loads((home / ".claude.json").read_text())["mcpServers"]["vertexsms"]
    done = setup_in(home, "claude-code", "--write", path_prefix=claude_bin.parent)
    assert done.returncode == 0, done.stderr
    assert "existing user-scope 'vertexsms' entry" in done.stderr
    (saved,) = home.glob(".claude.json.vertexsms.*.bak")
    assert str(saved) in done.stderr
    assert json.loads(saved.read_text()) == mine
    assert saved.stat().st_mode & 0o077 == 0
    now = json.loads((home / ".claude.json").read_text())["mcpServers"]["vertexsms"]
    assert now["command"] != "/my/own"
    restore = done.stderr.split("To put it back: ", 1)[1].splitlines()[0]
    run["env"] = setup_env(home, claude_bin.parent)
    back = subprocess.run([shutil.which("sh") or "/bin/sh", "-c", restore], **run)  # type: ignore[call-overload]
    assert back.returncode == 0, back.stderr
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["vertexsms"] == mine
