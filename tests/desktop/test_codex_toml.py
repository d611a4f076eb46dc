"""Codex's config.toml merge (desktop/codex.py) on the shapes TOML allows, parsed back with tomllib.

Schema: https://developers.openai.com/codex/mcp (``[mcp_servers.NAME]`` with ``command``,
``args``, ``env``).  The real Codex CLI reading these files back is in test_setup_cli_clients.py.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from vertex_stdio.desktop import codex
from vertex_stdio.desktop.files import SetupError

ENTRY = {"command": "/opt/bin/vertex-stdio", "args": ["--sandbox"], "env": {"VERTEXSMS_SANDBOX": "1"}}


def _merge(tmp_path: Path, text: str) -> tuple[Path, bytes]:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode())
    codex.merge(path, "vertexsms", ENTRY)
    return path, path.read_bytes()


@pytest.mark.parametrize(
    "text",
    [
        '# top\nmodel = "o3"  # keep\n\n[mcp_servers.other]\n# why\ncommand = "npx" # c\nargs = ["a#b"]\n',
        'mcp_servers.other.command = "npx"\nmodel = "x"\n',  # dotted keys, then a top-level key
        '# a\r\nmodel = "o3"\r\n\r\n[mcp_servers.other]\r\ncommand = "npx"\r\n',  # Windows line endings
        '[mcp_servers.other]\ncommand = "npx" # no newline at the end',
        "# only a comment\n",
    ],
)
def test_a_new_entry_is_appended_and_the_old_text_kept_byte_for_byte(tmp_path: Path, text: str) -> None:
    _, after = _merge(tmp_path, text)
    assert after.startswith(text.encode())
    data = tomllib.loads(after.decode())
    assert data["mcp_servers"]["vertexsms"] == ENTRY
    before = tomllib.loads(text)
    del data["mcp_servers"]["vertexsms"]
    assert {k: v for k, v in data.items() if v != {}} == before
    assert len(list(tmp_path.glob("config.toml.*.bak"))) == 1


def test_inline_tables_get_an_inline_entry(tmp_path: Path) -> None:
    """``mcp_servers = { ... }`` is closed to ``[mcp_servers.NAME]``: ours goes inside it, inline."""
    _, after = _merge(tmp_path, 'mcp_servers = { other = { command = "npx" } }\n')
    servers = tomllib.loads(after.decode())["mcp_servers"]
    assert servers == {"other": {"command": "npx"}, "vertexsms": ENTRY}


def test_replacing_ours_keeps_the_users_own_keys_and_everything_else(tmp_path: Path) -> None:
    text = (
        '[mcp_servers.vertexsms]\ncommand = "/old"\nstartup_timeout_sec = 60\n\n'
        '[mcp_servers.vertexsms.env]\nOLD = "1"\n\n[profiles.x]\nmodel = "y"\n'
    )
    _, after = _merge(tmp_path, text)
    data = tomllib.loads(after.decode())
    assert data["mcp_servers"]["vertexsms"] == ENTRY | {"startup_timeout_sec": 60}
    assert data["profiles"] == {"x": {"model": "y"}}


def test_the_same_entry_again_writes_nothing(tmp_path: Path) -> None:
    path, first = _merge(tmp_path, 'model = "o3"\n')
    result = codex.merge(path, "vertexsms", ENTRY)
    assert not result.changed
    assert path.read_bytes() == first
    assert len(list(tmp_path.glob("config.toml.*.bak"))) == 1


def test_a_new_file_holds_only_our_table(tmp_path: Path) -> None:
    path = tmp_path / "codex" / "config.toml"
    result = codex.merge(path, "vertexsms", ENTRY)
    assert result.created
    assert result.backup is None
    assert tomllib.loads(path.read_text()) == {"mcp_servers": {"vertexsms": ENTRY}}
    if sys.platform != "win32":  # a new file is its owner's only (Windows has no mode bits)
        assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('model = "o3"\n[mcp_servers.other\n', "not valid TOML"),
        ("mcp_servers = [1, 2]\n", "not a table"),
        # ours is spelled in dotted keys: tomlkit cannot replace it without moving other keys
        ('mcp_servers.vertexsms.command = "/old"\nmodel = "x"\n', "could not be merged"),
    ],
)
def test_files_we_cannot_merge_exactly_are_refused_untouched(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SetupError, match=problem):
        codex.merge(path, "vertexsms", ENTRY)
    assert path.read_text() == text
    assert list(tmp_path.iterdir()) == [path]


def test_comments_inside_mcp_servers_are_what_codex_mcp_add_would_lose(tmp_path: Path) -> None:
    """codex mcp add 0.171 rewrites [mcp_servers] (measured): comments elsewhere survive it."""
    path = tmp_path / "config.toml"
    path.write_text(
        '# top\nmodel = "o3" # x\n\n[mcp_servers.other]\ncommand = "npx"\nargs = ["#not-a-comment"]\n'
    )
    assert not codex.cli_would_lose_comments(path)
    path.write_text('[mcp_servers.other]\ncommand = "npx" # pinned\n')
    assert codex.cli_would_lose_comments(path)
    assert not codex.cli_would_lose_comments(tmp_path / "missing.toml")


def test_the_printed_command_and_snippet_are_the_same_entry() -> None:
    """``codex mcp add NAME --env K=V -- CMD ARGS`` and the TOML snippet describe one entry."""
    assert codex.codex_args("vertexsms", ENTRY) == [
        *("mcp", "add", "vertexsms", "--env", "VERTEXSMS_SANDBOX=1", "--"),
        *("/opt/bin/vertex-stdio", "--sandbox"),
    ]
    assert tomllib.loads(codex.snippet("vertexsms", ENTRY)) == {"mcp_servers": {"vertexsms": ENTRY}}


def test_env_vars_only_where_the_session_has_them_and_then_no_cli_command() -> None:
    """Outside macOS and Windows, the session's D-Bus, display and XDG variables are forwarded
    (``env_vars``); ``codex mcp add`` cannot write that, so no command is offered then."""
    session = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/b", "DISPLAY": ":0", "UNRELATED": "x"}
    linux = codex.with_forwarded(ENTRY, session, "linux")
    assert linux["env_vars"] == ["DBUS_SESSION_BUS_ADDRESS", "DISPLAY"]
    assert codex.codex_args("vertexsms", linux) is None
    assert tomllib.loads(codex.snippet("vertexsms", linux))["mcp_servers"]["vertexsms"] == linux
    for platform in ("darwin", "win32"):
        assert codex.with_forwarded(ENTRY, session, platform) == ENTRY
    assert codex.with_forwarded(ENTRY, {}, "linux") == ENTRY
