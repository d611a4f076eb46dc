"""``setup``: the printed entry, and ``--write`` merging into client config files of every shape."""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from privileges import REPO, overrides_file_modes, rerun_without_override

from vertex_stdio.app.arguments import SETUP_CLIENTS
from vertex_stdio.desktop.clients import (
    CLI_CLIENTS,
    CLIENTS,
    FORMAT_CLIENTS,
    claude_code_command,
    config_path,
    install_spec,
    server_command,
)
from vertex_stdio.desktop.merge import merge_entry
from vertex_stdio.desktop.setup import run_setup
from vertex_stdio.vertexsms.apitoken import Stored, TokenRefused

OTHER = {"command": "/usr/bin/other", "args": ["--flag"], "env": {"X": "1"}}
TEST_MODE = {"VERTEXSMS_TEST_MODE": "2"}


def _setup(path: Path, client: str = "claude-desktop", **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options: dict[str, Any] = {"write": True} | kwargs
    code = run_setup(client, config_path=path, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".*.bak"))


def test_absent_file_and_dirs_are_created(tmp_path: Path) -> None:
    """With no config file, --write creates it (and its directories), 0600, without a backup."""
    path = tmp_path / "Claude" / "claude_desktop_config.json"
    code, out, err = _setup(path)
    assert code == 0, err
    data = json.loads(path.read_text())
    assert data == json.loads(out)
    assert data["mcpServers"]["vertexsms"]["command"] == server_command()[0]
    assert Path(data["mcpServers"]["vertexsms"]["command"]).is_absolute()
    assert _siblings(path) == ["claude_desktop_config.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Created" in err
    assert "Quit Claude Desktop" in err


@pytest.mark.parametrize("original", ["{}", "", "  \n", '\ufeff{"mcpServers": {}}'])
def test_empty_files_get_our_entry_and_a_backup(tmp_path: Path, original: str) -> None:
    """An empty object, an empty file or a BOM-prefixed file is merged, and the original backed up."""
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(original, encoding="utf-8")
    code, _, err = _setup(path)
    assert code == 0, err
    assert list(json.loads(path.read_text())["mcpServers"]) == ["vertexsms"]
    (backup,) = _backups(path)
    assert backup.read_text(encoding="utf-8") == original
    assert not [n for n in _siblings(path) if n.endswith(".tmp")]


def test_other_servers_and_keys_are_kept(tmp_path: Path) -> None:
    """Other servers, other top-level keys and their order survive; the file keeps its mode."""
    path = tmp_path / "claude_desktop_config.json"
    original = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {"other": OTHER, "zeta": {"command": "z"}},
        "x": [1],
    }
    path.write_text(json.dumps(original, indent=4))
    path.chmod(0o640)
    code, _, err = _setup(path)
    assert code == 0, err
    merged = json.loads(path.read_text())
    assert list(merged) == ["globalShortcut", "mcpServers", "x"]
    assert list(merged["mcpServers"]) == ["other", "zeta", "vertexsms"]
    assert {k: v for k, v in merged.items() if k != "mcpServers"} == {
        "globalShortcut": "Ctrl+Space",
        "x": [1],
    }
    assert merged["mcpServers"]["other"] == OTHER
    assert merged["mcpServers"]["zeta"] == {"command": "z"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(_backups(path)[0].read_text()) == original


def test_existing_entry_is_updated_then_left_alone(tmp_path: Path) -> None:
    """An old vertexsms entry is replaced; running again changes nothing and makes no new backup."""
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": {"vertexsms": {"command": "uvx", "args": ["vertex-stdio"]}}}))
    assert _setup(path, env=TEST_MODE)[0] == 0
    entry = json.loads(path.read_text())["mcpServers"]["vertexsms"]
    assert entry["env"] == TEST_MODE
    assert entry["command"] != "uvx"
    before = path.read_bytes()
    code, _, err = _setup(path, env=TEST_MODE)
    assert code == 0
    assert "nothing changed" in err
    assert path.read_bytes() == before
    assert len(_backups(path)) == 1


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ('{"mcpServers": {"other": ', "not valid JSON"),
        ('{"mcpServers": ["not", "an", "object"]}', "not an object"),
        ('{"mcpServers": null}', "not an object"),
        ("[1, 2]", "JSON object at the top level"),
    ],
)
def test_unusable_files_are_refused_untouched(tmp_path: Path, content: str, phrase: str) -> None:
    """Malformed JSON or a non-object mcpServers: exit 1, a clear message, the file unchanged."""
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(content)
    code, _, err = _setup(path)
    assert code == 1
    assert phrase in err
    assert "untouched" in err
    assert path.read_text() == content
    assert _siblings(path) == ["claude_desktop_config.json"]


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    """A path that cannot be read as a file: exit 1, nothing written."""
    path = tmp_path / "claude_desktop_config.json"
    path.mkdir()
    code, _, err = _setup(path)
    assert code == 1
    assert "cannot read" in err
    assert path.is_dir()
    assert _siblings(path) == ["claude_desktop_config.json"]


@pytest.mark.skipif(sys.platform == "win32" or overrides_file_modes(), reason="root reads any file")
def test_permission_denied_is_refused(tmp_path: Path) -> None:
    """A config file we may not read: exit 1 with a permissions hint."""
    path = tmp_path / "claude_desktop_config.json"
    path.write_text("{}")
    path.chmod(0)
    code, _, err = _setup(path)
    assert code == 1
    assert "permissions" in err


@pytest.mark.slow
@pytest.mark.skipif(not overrides_file_modes(), reason="the test above runs as this user")
def test_permission_denied_is_refused_as_root() -> None:
    """The test above, run as root without root's override of file modes (its twin for root)."""
    rerun_without_override(f"{Path(__file__).relative_to(REPO)}::test_permission_denied_is_refused")


def test_token_only_when_passed_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token in the environment never reaches the file; a passed one is handed to ``keep_token``
    (the keyring; tests/desktop/test_setup_token.py runs the real one) and never written either."""
    monkeypatch.setenv("VERTEXSMS_API_TOKEN", "env-secret-123456")
    path = tmp_path / "claude_desktop_config.json"
    path.write_text("{}")
    path.chmod(0o644)
    code, out, err = _setup(path)
    assert code == 0
    assert "env-secret" not in path.read_text() + out + err
    given: list[str | None] = []

    def keep(token: str | None) -> Stored:
        given.append(token)
        return Stored("keyring (test)", "VertexSMS accepted it.", file_store=False)

    code, out, err = _setup(path, api_token="passed-secret-123456", keep_token=keep)
    assert code == 0
    assert given == ["passed-secret-123456"]
    assert "passed-secret" not in path.read_text() + out
    assert "env" not in json.loads(path.read_text())["mcpServers"]["vertexsms"]
    assert "kept in keyring (test)" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_token_that_cannot_be_kept_writes_nothing(tmp_path: Path) -> None:
    """``keep_token`` refusing (no keyring, VertexSMS said no): exit 1 with its reason, no file."""
    path = tmp_path / "claude_desktop_config.json"

    def refuse(token: str | None) -> Stored:
        raise TokenRefused("VertexSMS refused this token (HTTP 401).")

    code, _, err = _setup(path, api_token=True, keep_token=refuse)
    assert code == 1
    assert "not set up: VertexSMS refused this token" in err
    assert not path.exists()


def test_print_only_writes_nothing(tmp_path: Path) -> None:
    """Without --write the entry is printed and no file appears."""
    path = tmp_path / "cfg" / "claude_desktop_config.json"
    code, out, err = _setup(path, write=False)
    assert code == 0
    assert "--write" in err
    assert "vertexsms" in json.loads(out)["mcpServers"]
    assert not path.parent.exists()


def test_vscode_uses_servers_with_type(tmp_path: Path) -> None:
    """VS Code's .vscode/mcp.json uses the ``servers`` key and ``type: stdio``; inputs are kept."""
    path = tmp_path / ".vscode" / "mcp.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"inputs": [{"id": "t", "type": "promptString"}], "servers": {}}))
    assert _setup(path, client="vscode")[0] == 0
    data = json.loads(path.read_text())
    assert data["servers"]["vertexsms"]["type"] == "stdio"
    assert data["inputs"] == [{"id": "t", "type": "promptString"}]


def test_claude_code_prints_the_add_command(tmp_path: Path) -> None:
    """For Claude Code, setup prints a ``claude mcp add`` line, name before ``-e``, and writes no file."""
    code, out, _ = _setup(
        tmp_path / "x.json", client="claude-code", write=False, env={"VERTEXSMS_SANDBOX": "1"}
    )
    assert code == 0
    assert out.startswith("claude mcp add --scope user vertexsms-sandbox -e VERTEXSMS_SANDBOX=1 -- ")
    assert not (tmp_path / "x.json").exists()
    entry = {"command": "/opt/my tools/vertex-stdio", "args": [], "env": {}}
    assert claude_code_command("vertexsms", entry).endswith("vertexsms -- '/opt/my tools/vertex-stdio'")


def test_unknown_client_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown client name exits 2 and names the valid ones."""
    code, _, err = _setup(tmp_path / "x.json", client="emacs")
    assert code == 2
    assert "claude-desktop" in err


def test_config_paths_per_os(tmp_path: Path) -> None:
    """Claude Desktop's file is where each OS keeps it; Cursor's is in ~/.cursor."""
    home = tmp_path
    mac = config_path("claude-desktop", platform="darwin", env={}, home=home)
    assert mac == home / "Library/Application Support/Claude/claude_desktop_config.json"
    win = config_path("claude-desktop", platform="win32", env={"APPDATA": str(home / "Roaming")}, home=home)
    assert win == home / "Roaming" / "Claude" / "claude_desktop_config.json"
    linux = config_path("claude-desktop", platform="linux", env={}, home=home)
    assert linux == home / ".config/Claude/claude_desktop_config.json"
    assert config_path("cursor", home=home) == home / ".cursor" / "mcp.json"
    assert config_path("claude-code") is None
    assert (
        set(CLIENTS) == {"claude-desktop", "claude-code", "cursor", "vscode"} | FORMAT_CLIENTS | CLI_CLIENTS
    )
    assert tuple(CLIENTS) == SETUP_CLIENTS  # the parser offers every client setup knows
    assert config_path("zed", platform="win32", env={"APPDATA": "C:/R"}, home=home) == Path(
        "C:/R/Zed/settings.json"
    )
    assert config_path("codex", env={}, home=home) == home / ".codex" / "config.toml"
    moved = {"CODEX_HOME": str(home / "c"), "GEMINI_CLI_HOME": str(home / "g")}
    assert config_path("codex", env=moved, home=home) == home / "c" / "config.toml"
    assert config_path("gemini", env={}, home=home) == home / ".gemini" / "settings.json"
    assert config_path("gemini", env=moved, home=home) == home / "g" / ".gemini" / "settings.json"


def test_server_command_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The running script wins; a uvx cache script becomes uvx (with --from); else ``python -m``."""
    script = tmp_path / "bin" / "vertex-stdio"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert server_command(str(script), executable=str(tmp_path / "py" / "python")) == [str(script)]
    cached = tmp_path / "uv" / "archive-v0" / "abc" / "bin" / "vertex-stdio"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    uvx = tmp_path / "tools" / "uvx"
    uvx.parent.mkdir()
    uvx.write_text("#!/bin/sh\n")
    uvx.chmod(0o755)
    monkeypatch.setenv("PATH", str(uvx.parent))
    python = str(cached.parent / "python")
    assert server_command(str(cached), python, env={}, direct_url="") == [str(uvx), "vertex-stdio"]
    wheel = '{"url": "file:///srv/w/vertex_stdio-1-py3-none-any.whl", "archive_info": {}}'
    assert server_command(str(cached), python, env={}, direct_url=wheel) == [
        str(uvx),
        "--from",
        "/srv/w/vertex_stdio-1-py3-none-any.whl",
        "vertex-stdio",
    ]
    uv = tmp_path / "uvbin" / "uv"
    uv.parent.mkdir()
    uv.write_text("#!/bin/sh\n")
    assert server_command(str(cached), python, env={"UV": str(uv)}, direct_url="") == [
        str(uv),
        "tool",
        "run",
        "vertex-stdio",
    ]
    fallback = server_command("/nowhere/__main__.py", executable="/nowhere/python3")
    assert fallback == ["/nowhere/python3", "-m", "vertex_stdio"]


@pytest.mark.parametrize(
    ("direct_url", "spec"),
    [
        ('{"url": "file:///a%20b/dist", "dir_info": {}}', "/a b/dist"),
        (
            '{"url": "https://github.com/o/r", "vcs_info": {"vcs": "git", "commit_id": "abc"}}',
            "git+https://github.com/o/r@abc",
        ),
        (
            '{"url": "https://example.test/v-1-py3-none-any.whl", "archive_info": {}}',
            "https://example.test/v-1-py3-none-any.whl",
        ),
        ("not json", None),
        (None, None),
    ],
)
def test_install_spec_from_direct_url(direct_url: str | None, spec: str | None) -> None:
    """PEP 610 records become what ``uvx --from`` takes (a path, a VCS URL, a URL) or nothing."""
    assert install_spec(direct_url) == spec


def test_merge_entry_reports_what_it_did(tmp_path: Path) -> None:
    """merge_entry says whether it created, changed or left the file."""
    path = tmp_path / "mcp.json"
    first = merge_entry(path, "mcpServers", "vertexsms", {"command": "a", "args": []})
    assert first.created
    assert first.changed
    assert first.backup is None
    again = merge_entry(path, "mcpServers", "vertexsms", {"command": "a", "args": []})
    assert not again.changed
