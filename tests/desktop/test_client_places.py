"""Where each file client's config lives on Linux, macOS and Windows (``desktop/formats/places``),
as each client documents it (sources in places.py and test_setup_file_clients.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vertex_stdio.desktop.formats import entries, places

HOME = Path("/home/u")
WIN_ENV = {"APPDATA": "C:/Users/u/AppData/Roaming"}


@pytest.mark.parametrize(
    ("client", "platform", "env", "expected"),
    [
        ("windsurf", "linux", {}, "/home/u/.codeium/windsurf/mcp_config.json"),
        ("windsurf", "win32", WIN_ENV, "/home/u/.codeium/windsurf/mcp_config.json"),
        ("zed", "linux", {}, "/home/u/.config/zed/settings.json"),
        ("zed", "linux", {"XDG_CONFIG_HOME": "/x"}, "/x/zed/settings.json"),
        ("zed", "linux", {"FLATPAK_XDG_CONFIG_HOME": "/f", "XDG_CONFIG_HOME": "/x"}, "/f/zed/settings.json"),
        ("zed", "darwin", {"XDG_CONFIG_HOME": "/x"}, "/home/u/.config/zed/settings.json"),
        ("zed", "win32", WIN_ENV, "C:/Users/u/AppData/Roaming/Zed/settings.json"),
        (
            "cline",
            "darwin",
            {},
            "/home/u/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/"
            "settings/cline_mcp_settings.json",
        ),
        (
            "cline",
            "win32",
            WIN_ENV,
            "C:/Users/u/AppData/Roaming/Code/User/globalStorage/saoudrizwan.claude-dev/"
            "settings/cline_mcp_settings.json",
        ),
        ("goose", "linux", {}, "/home/u/.config/goose/config.yaml"),
        ("goose", "darwin", {}, "/home/u/.config/goose/config.yaml"),
        ("goose", "win32", WIN_ENV, "C:/Users/u/AppData/Roaming/Block/goose/config/config.yaml"),
        ("continue", "linux", {}, "/home/u/.continue/config.yaml"),
        ("continue", "win32", {"CONTINUE_GLOBAL_DIR": "/c"}, "/c/config.yaml"),
        ("continue", "linux", {"CONTINUE_GLOBAL_DIR": "relative"}, "/home/u/.continue/config.yaml"),
        ("lmstudio", "darwin", {}, "/home/u/.lmstudio/mcp.json"),
        ("lmstudio", "win32", WIN_ENV, "/home/u/.lmstudio/mcp.json"),
    ],
)
def test_each_client_reads_its_documented_file(
    client: str, platform: str, env: dict[str, str], expected: str
) -> None:
    """Each OS's documented location (Windows: ``%USERPROFILE%`` is the home, ``%APPDATA%`` roams)."""
    assert places.config_file(client, platform=platform, env=env, home=HOME) == Path(expected)


def test_jetbrains_has_no_file() -> None:
    """AI Assistant keeps servers in the IDE's settings; setup prints, never writes."""
    assert places.config_file("jetbrains", platform="linux", env={}, home=HOME) is None


def test_the_cline_cli_file_when_only_the_cli_ran(tmp_path: Path) -> None:
    """Cline's CLI reads ~/.cline/data/settings/; used only when the VS Code extension never ran."""
    extension, cli = places.cline_paths("linux", {}, tmp_path)
    assert places.config_file("cline", platform="linux", env={}, home=tmp_path) == extension
    cli.parent.mkdir(parents=True)
    assert places.config_file("cline", platform="linux", env={}, home=tmp_path) == cli
    extension.parent.mkdir(parents=True)
    assert places.config_file("cline", platform="linux", env={}, home=tmp_path) == extension


def test_installed_is_the_clients_own_folder(tmp_path: Path) -> None:
    """A client counts as installed once its folder exists (it ran at least once)."""
    assert not places.installed("goose", platform="linux", env={}, home=tmp_path)
    (tmp_path / ".config" / "goose").mkdir(parents=True)
    assert places.installed("goose", platform="linux", env={}, home=tmp_path)
    assert not places.installed("jetbrains", platform="linux", env={}, home=tmp_path)
    (tmp_path / ".config" / "JetBrains").mkdir()
    assert places.installed("jetbrains", platform="linux", env={}, home=tmp_path)


def test_goose_entry_is_its_documented_stdio_shape() -> None:
    """goose's fields (config-files.md): type, name, enabled, cmd, args, envs, env_keys, timeout."""
    entry = entries.entry_for(
        "goose", "vertexsms", {"command": "/bin/v", "args": ["--sandbox"], "env": {"A": "1"}}
    )
    assert entry == {
        "enabled": True,
        "type": "stdio",
        "name": "vertexsms",
        "description": entries.DESCRIPTION,
        "cmd": "/bin/v",
        "args": ["--sandbox"],
        "envs": {"A": "1"},
        "env_keys": [],
        "timeout": 300,
    }


GOOSE_SERDE = """extensions:
  fetch:
    args:
    - mcp-server-fetch
    cmd: uvx
    enabled: true
    envs: {}
    name: fetch
    timeout: 300
    type: stdio
GOOSE_PROVIDER: openai
"""
CONTINUE_FOUR = """name: Local Config
version: 1.0.0
schema: v1
mcpServers:
    - name: SQLite  # mine
      command: npx
      args:
          - mcp-sqlite
      env:
          A: "1"
"""


@pytest.mark.parametrize(("client", "text"), [("goose", GOOSE_SERDE), ("continue", CONTINUE_FOUR)])
def test_a_yaml_file_keeps_its_own_indentation(tmp_path: Path, client: str, text: str) -> None:
    """goose writes its file with serde_yaml (a list's "-" under its key); a hand-edited Continue
    file may indent by four: every line the user had is still there, as it was."""
    from vertex_stdio.desktop.formats import yamlfile

    path = tmp_path / "config.yaml"
    path.write_text(text)
    entry = entries.entry_for(client, "vertexsms", {"command": "/bin/v", "args": ["--sandbox"]})
    assert yamlfile.merge(path, client, "vertexsms", entry).changed
    new = path.read_text()
    assert [line for line in text.splitlines() if line not in new.splitlines()] == []
    assert len(new.splitlines()) > len(text.splitlines())
