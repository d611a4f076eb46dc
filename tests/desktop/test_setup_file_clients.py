"""``setup`` for Windsurf, Zed, Cline, goose, Continue, LM Studio and JetBrains, through the real
``vertex-stdio setup`` process in a temporary home: each file in its client's documented place and
shape, parsed back with the format's own parser and checked against the client's documented schema.

The documentation each schema below comes from:
- Windsurf: https://docs.windsurf.com/windsurf/cascade/mcp ("~/.codeium/windsurf/mcp_config.json ...
  should follow the same schema as the config file for Claude Desktop": command, args, env).
- Zed: https://zed.dev/docs/ai/mcp ("context_servers": command, args, env) and zed-industries/zed
  crates/settings_content (ContextServerSettingsContent::Stdio: enabled, remote, command, args,
  env, timeout).
- Cline: https://docs.cline.bot/mcp/configuring-mcp-servers (cline_mcp_settings.json, mcpServers:
  command, args, env, disabled, autoApprove), in VS Code's globalStorage/saoudrizwan.claude-dev.
- goose: aaif-goose/goose documentation/docs/guides/config-files.md (extensions.NAME: type stdio,
  name, enabled, cmd, args, env_keys, envs, timeout; plus bundled, display_name, description,
  available_tools).
- Continue: https://docs.continue.dev/customize/deep-dives/mcp (mcpServers is a YAML list of name,
  type, command, args, env; a block file needs name, version, schema).
- LM Studio: lmstudio-ai/docs 0_app/2_mcp/index.mdx ("follows Cursor's mcp.json notation").
- JetBrains AI Assistant: https://www.jetbrains.com/help/ai-assistant/mcp.html (Settings | Tools |
  AI Assistant | Model Context Protocol (MCP); a JSON "mcpServers" configuration, no file).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from secrets_absent import assert_no_secret, assert_no_secret_in_files
from setup_command import run_setup, setup_env

from bridge import file_keyring_env, vertex
from vertex_stdio.desktop import jsonc
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator

TOKEN = "vx-files-7c6b5a4f3e2d1c0b9a8f"
URL = "https://mcp.example.test/mcp"

# Where each client reads its servers, relative to HOME on Linux (places.py has every OS).
PLACES = {
    "windsurf": ".codeium/windsurf/mcp_config.json",
    "zed": ".config/zed/settings.json",
    "cline": ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
    "goose": ".config/goose/config.yaml",
    "continue": ".continue/config.yaml",
    "lmstudio": ".lmstudio/mcp.json",
}
# The documented fields of one stdio entry: {field: type}; "required" ones must be there.
_STR_LIST, _STR_MAP = "list[str]", "dict[str,str]"
SCHEMAS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "windsurf": ({"command": str, "args": _STR_LIST, "env": _STR_MAP, "disabled": bool}, {"command"}),
    "zed": (
        {"command": str, "args": _STR_LIST, "env": _STR_MAP, "timeout": int, "enabled": bool, "remote": bool},
        {"command", "args"},
    ),
    "cline": (
        {"command": str, "args": _STR_LIST, "env": _STR_MAP, "disabled": bool, "autoApprove": _STR_LIST},
        {"command"},
    ),
    "goose": (
        {
            **{"type": str, "name": str, "enabled": bool, "cmd": str, "args": _STR_LIST},
            **{"env_keys": _STR_LIST, "envs": _STR_MAP, "timeout": int, "bundled": bool},
            **{"display_name": str, "description": str, "available_tools": _STR_LIST},
        },
        {"type", "name", "cmd", "args", "enabled"},
    ),
    "continue": (
        {"name": str, "type": str, "command": str, "args": _STR_LIST, "env": _STR_MAP, "cwd": str},
        {"name", "command"},
    ),
    "lmstudio": ({"command": str, "args": _STR_LIST, "env": _STR_MAP}, {"command"}),
    "jetbrains": ({"command": str, "args": _STR_LIST, "env": _STR_MAP}, {"command"}),
}
# A file as a user has it: another server, and comments wherever the format allows them.
EXISTING = {
    "windsurf": '{\n  "mcpServers": {\n    "github": {"command": "npx", "args": ["-y", "gh"]}\n  }\n}\n',
    "zed": (
        "// Zed settings\n//\n// For information on how to configure Zed, see the Zed docs.\n{\n"
        '  "theme": "One Dark", // my theme\n'
        '  "context_servers": {\n    /* mine */ "github": {"command": "npx", "args": ["-y", "gh"]},\n  },\n}\n'
    ),
    "cline": '{"mcpServers": {"github": {"command": "npx", "args": ["-y", "gh"], "disabled": true}}}',
    "goose": (
        "# goose config\nGOOSE_PROVIDER: openai  # the provider\nextensions:\n  developer:\n"
        "    bundled: true\n    enabled: true  # keep on\n    name: developer\n    timeout: 300\n"
        "    type: builtin\nGOOSE_MODE: smart_approve\n"
    ),
    "continue": (
        "name: Local Config\nversion: 1.0.0\nschema: v1\nmodels: []  # none yet\nmcpServers:\n"
        '  # my database\n  - name: SQLite\n    command: npx\n    args: ["-y", "mcp-sqlite"]\n'
    ),
    "lmstudio": '{"mcpServers": {"hf-mcp-server": {"url": "https://huggingface.co/mcp"}}}',
}
COMMENTS = {"zed": ["// Zed settings", "// my theme", "/* mine */"], "goose": ["# goose config", "# the provider", "# keep on"], "continue": ["# none yet", "# my database"]}  # fmt: skip
MALFORMED = {name: '{"mcpServers": {"x": ' for name in ("windsurf", "zed", "cline", "lmstudio")}
MALFORMED |= {"goose": "extensions:\n  a: [unclosed\n", "continue": "mcpServers:\n  - name: a\n bad: : :\n"}


_MOVED = ("XDG_CONFIG_HOME", "FLATPAK_XDG_CONFIG_HOME", "APPDATA", "CONTINUE_GLOBAL_DIR")


def _setup(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio setup ARGS`` in ``home``, the clients' own config folders left out."""
    return run_setup(setup_env(home, drop=_MOVED), *args)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    path.mkdir()
    return path


def _read(client: str, text: str) -> Any:
    """The file as the client parses it: YAML (ruamel's safe loader), JSONC for Zed, JSON."""
    if client in ("goose", "continue"):
        return YAML(typ="safe", pure=True).load(text)
    return jsonc.loads(text) if client == "zed" else json.loads(text)


def _servers(client: str, data: Any) -> dict[str, Any]:
    """Name -> entry, from each client's servers key (Continue's is a list)."""
    if client == "goose":
        return dict(data["extensions"])
    if client == "continue":
        return {item["name"]: item for item in data["mcpServers"]}
    return dict(data["context_servers" if client == "zed" else "mcpServers"])


def _conforms(client: str, entry: dict[str, Any]) -> None:
    """``entry`` has only documented fields, of the documented types, and the required ones."""
    fields, required = SCHEMAS[client]
    assert required <= set(entry), f"{client}: missing {required - set(entry)}"
    assert set(entry) <= set(fields), f"{client}: undocumented {set(entry) - set(fields)}"
    for key, value in entry.items():
        kind = fields[key]
        if kind == _STR_LIST:
            assert isinstance(value, list), key
            assert all(isinstance(v, str) for v in value), key
        elif kind == _STR_MAP:
            assert isinstance(value, dict), key
            assert all(isinstance(v, str) for v in value.values()), key
        else:
            assert isinstance(value, kind), key
            assert kind is bool or not isinstance(value, bool), key  # YAML true is no timeout
    command = entry.get("cmd", entry.get("command"))
    assert Path(command).is_absolute()
    assert os.access(command, os.X_OK)
    if client == "goose":
        assert entry["type"] == "stdio"
        assert entry["enabled"] is True
    if client == "continue":
        assert entry["type"] == "stdio"


@pytest.mark.slow
@pytest.mark.parametrize("client", sorted(PLACES))
def test_write_merges_into_a_users_file_keeping_the_rest(home: Path, client: str) -> None:
    """Into the file the client reads: our entry in its documented shape, the other server and
    every comment kept, the original backed up; a second run changes nothing."""
    path = home / PLACES[client]
    path.parent.mkdir(parents=True)
    path.write_text(EXISTING[client])
    done = _setup(home, client, "--write", "--test-mode", "1")
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    servers = _servers(client, _read(client, text))
    before = _servers(client, _read(client, EXISTING[client]))
    assert {k: v for k, v in servers.items() if k != "vertexsms"} == before  # theirs untouched
    ours = servers["vertexsms"]
    _conforms(client, ours)
    assert ours.get("envs", ours.get("env")) == {"VERTEXSMS_TEST_MODE": "1"}
    for comment in COMMENTS.get(client, []):
        assert comment in text
    backups = sorted(path.parent.glob(path.name + ".*.bak"))
    assert [b.read_text() for b in backups] == [EXISTING[client]]
    assert f"Updated {path}" in done.stderr
    again = _setup(home, client, "--write", "--test-mode", "1")
    assert again.returncode == 0
    assert "nothing changed" in again.stderr
    assert path.read_text() == text
    assert len(list(path.parent.glob(path.name + ".*.bak"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("client", sorted(PLACES))
def test_a_malformed_file_is_refused_untouched(home: Path, client: str) -> None:
    """A file the client could not parse either is left byte for byte, with no backup."""
    path = home / PLACES[client]
    path.parent.mkdir(parents=True)
    path.write_bytes(MALFORMED[client].encode())
    done = _setup(home, client, "--write")
    assert done.returncode == 1
    assert "left untouched" in done.stderr
    assert path.read_bytes() == MALFORMED[client].encode()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("client", "text"),
    [("goose", "extensions:\n  - a\n"), ("continue", "mcpServers:\n  a: {command: x}\n")],
)
def test_a_yaml_servers_key_of_the_wrong_shape_is_refused(home: Path, client: str, text: str) -> None:
    """goose's extensions must be a mapping, Continue's mcpServers a list; otherwise no change."""
    path = home / PLACES[client]
    path.parent.mkdir(parents=True)
    path.write_text(text)
    done = _setup(home, client, "--write")
    assert done.returncode == 1
    assert "left untouched" in done.stderr
    assert path.read_text() == text


@pytest.mark.slow
@pytest.mark.parametrize("client", [*sorted(PLACES), "jetbrains"])
def test_connect_gives_an_entry_running_connect(home: Path, client: str) -> None:
    """``--connect URL`` gives each client an entry that runs ``connect URL --name NAME``."""
    connected = _setup(home, client, "--connect", URL, "--name", "remote")
    assert connected.returncode == 0, connected.stderr
    printed = _servers(client, _read(client, connected.stdout))
    _conforms(client, printed["remote"])
    assert printed["remote"]["args"][-4:] == ["connect", URL, "--name", "remote"]


@pytest.mark.slow
def test_connect_entry_carries_client_id_and_client_auth(home: Path) -> None:
    """``--client-id`` and ``--client-auth`` go into the connect entry's args; ``--client-auth``
    without ``--client-id`` or without ``--connect`` is a usage error."""
    connected = _setup(
        home, "claude-desktop", "--connect", URL, "--client-id", "app-7", "--client-auth", "post"
    )
    assert connected.returncode == 0, connected.stderr
    entry = _servers("claude-desktop", _read("claude-desktop", connected.stdout))
    [args] = [server["args"] for server in entry.values()]
    assert args[-4:] == ["--client-id", "app-7", "--client-auth", "post"]
    alone = _setup(home, "claude-desktop", "--connect", URL, "--client-auth", "post")
    assert alone.returncode == 2
    assert "needs --client-id" in alone.stderr
    vertexsms = _setup(home, "claude-desktop", "--client-id", "app-7", "--client-auth", "post")
    assert vertexsms.returncode == 2
    assert "for a remote server" in vertexsms.stderr


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        yield emu


@pytest.mark.slow
@pytest.mark.parametrize("client", [*sorted(PLACES), "jetbrains"])
def test_a_pasted_token_is_kept_and_no_file_holds_it(home: Path, emulator: Emulator, client: str) -> None:
    """``setup CLIENT --api-token`` with the token piped in: checked with VertexSMS (the emulator),
    kept in the keyring, and neither the written file nor anything printed holds it or a piece of it."""
    env = file_keyring_env(home, emulator)
    env = {k: v for k, v in env.items() if k not in _MOVED}
    write = ["--write"] if client != "jetbrains" else []
    done = vertex(env, "setup", client, *write, "--api-token", stdin=TOKEN + "\n", cwd=home, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kept in keyring" in done.stderr
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert_no_secret_in_files(TOKEN, home, skip=[home / "keyring.json"])
    if client != "jetbrains":
        path = home / (PLACES[client] if client != "continue" else ".continue/mcpServers/vertexsms.yaml")
        entry = _servers(client, _read(client, path.read_text()))["vertexsms"]
        _conforms(client, entry)
        assert "VERTEXSMS_API_TOKEN" not in entry.get("envs", entry.get("env", {}))


@pytest.mark.slow
def test_continue_without_config_yaml_gets_a_block_file(home: Path) -> None:
    """No ``~/.continue/config.yaml`` (Continue may run on config.json): a block file of ours in
    ``~/.continue/mcpServers/``, which Continue reads beside either, never a config.yaml of ours."""
    done = _setup(home, "continue", "--write")
    assert done.returncode == 0, done.stderr
    block = home / ".continue" / "mcpServers" / "vertexsms.yaml"
    data = YAML(typ="safe", pure=True).load(block.read_text())
    assert {data["name"], data["version"], data["schema"]} == {"VertexSMS", "0.0.1", "v1"}
    _conforms("continue", _servers("continue", data)["vertexsms"])
    assert not (home / ".continue" / "config.yaml").exists()


@pytest.mark.slow
def test_jetbrains_prints_the_json_to_paste_and_writes_nothing(home: Path) -> None:
    """AI Assistant has no file to merge into: the JSON and its settings page are printed, and
    ``--write`` says nothing was written (exit 1) and leaves the home empty."""
    shown = _setup(home, "jetbrains")
    assert shown.returncode == 0
    _conforms("jetbrains", json.loads(shown.stdout)["mcpServers"]["vertexsms"])
    assert "Settings | Tools | AI Assistant | Model Context Protocol (MCP)" in shown.stderr
    written = _setup(home, "jetbrains", "--write")
    assert written.returncode == 1
    assert "nothing was written" in written.stderr
    assert [p for p in home.rglob("*") if p.is_file()] == []
