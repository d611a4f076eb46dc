"""``setup codex`` and ``setup gemini`` against the real Codex and Gemini CLIs (npm, pinned in
tests/support/client_clis), in a temporary home; and ``setup`` with no client.

Schemas the files are compared with:
- Codex: https://developers.openai.com/codex/mcp ("STDIO servers": ``command`` required; ``args``,
  ``env``, ``env_vars``, ``cwd`` optional; plus the options every server takes).
- Gemini CLI: https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md
  (``mcpServers.NAME``: ``command``, ``args``, ``env``, ``cwd``, ``timeout``, ``trust``, ...).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clis import installed
from secrets_absent import assert_no_secret, assert_no_secret_in_files

from bridge import vertex
from vertex_stdio.desktop import codex
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator

TOKEN = "vx-9Qz4Lm7Rt2Wp8Kd3Hs6"
SUPPORT = Path(__file__).resolve().parents[1] / "support"
URL = "https://mcp.example.test/mcp"
CODEX_STDIO_KEYS = {"command", "args", "env", "env_vars", "cwd", "experimental_environment"}
CODEX_COMMON_KEYS = {
    "enabled",
    "required",
    "startup_timeout_sec",
    "tool_timeout_sec",
    "enabled_tools",
    "disabled_tools",
    "default_tools_approval_mode",
    "tools",
}
GEMINI_KEYS = {
    "command",
    "args",
    "env",
    "cwd",
    "timeout",
    "trust",
    "includeTools",
    "excludeTools",
    "description",
}


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return installed("codex")


@pytest.fixture(scope="session")
def gemini_bin() -> Path:
    return installed("gemini")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    (path / "work").mkdir(parents=True)
    return path


def _env(home: Path, *bin_dirs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERTEXSMS_", "CODEX_", "GEMINI_"))}
    for name in codex.FORWARDED:  # a desktop session's: the test that wants them sets them
        env.pop(name, None)
    env |= {"HOME": str(home), "NO_COLOR": "1", "GEMINI_CLI_NO_RELAUNCH": "true"}
    env["PATH"] = os.pathsep.join([*map(str, bin_dirs), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    return env


def _run(argv: list[str], home: Path, *bin_dirs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=home / "work",
        env=_env(home, *bin_dirs),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _setup(home: Path, *args: str, on_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio setup ARGS`` as a real process; ``on_path``: a client's bin folder on PATH."""
    dirs = [on_path] if on_path else []
    return _run([sys.executable, "-m", "vertex_stdio", "setup", *args], home, *dirs)


def _codex_get(codex_bin: Path, home: Path, name: str) -> dict[str, Any]:
    done = _run([str(codex_bin), "mcp", "get", name, "--json"], home)
    assert done.returncode == 0, done.stderr
    got: dict[str, Any] = json.loads(done.stdout)
    return got


def _codex_servers(home: Path) -> dict[str, Any]:
    servers: dict[str, Any] = tomllib.loads((home / ".codex" / "config.toml").read_text())["mcp_servers"]
    return servers


def _assert_codex_schema(table: dict[str, Any]) -> None:
    """Our table holds only documented keys, each of the documented type."""
    assert set(table) <= CODEX_STDIO_KEYS | CODEX_COMMON_KEYS
    assert isinstance(table["command"], str)
    assert Path(table["command"]).is_absolute()
    assert all(isinstance(arg, str) for arg in table.get("args", []))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in table.get("env", {}).items())


# --- Codex -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_codex_runs_the_printed_command_and_reads_the_entry_back(codex_bin: Path, home: Path) -> None:
    """With codex on PATH, the printed ``codex mcp add`` runs as printed; Codex's own ``get``
    and ``list`` read back our command, arguments and settings."""
    done = _setup(home, "codex", "--sandbox", "--test-mode", "2", on_path=codex_bin.parent)
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout)
    assert words[:4] == ["codex", "mcp", "add", "vertexsms-sandbox"]
    added = _run(words, home, codex_bin.parent)
    assert added.returncode == 0, added.stderr
    transport = _codex_get(codex_bin, home, "vertexsms-sandbox")["transport"]
    assert transport["type"] == "stdio"
    assert transport["command"] == words[words.index("--") + 1]
    assert transport["env"] == {"VERTEXSMS_SANDBOX": "1", "VERTEXSMS_TEST_MODE": "2"}
    listed = _run([str(codex_bin), "mcp", "list", "--json"], home)
    assert [server["name"] for server in json.loads(listed.stdout)] == ["vertexsms-sandbox"]
    _assert_codex_schema(_codex_servers(home)["vertexsms-sandbox"])


@pytest.mark.slow
def test_codex_write_runs_codex_and_keeps_the_other_servers(codex_bin: Path, home: Path) -> None:
    """``--write`` with codex on PATH (no comments in [mcp_servers]) runs codex mcp add: the
    previous file is backed up, the other server and the rest of the file are kept."""
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('# mine\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "npx"\nargs = ["-y", "x"]\n')
    before = tomllib.loads(config.read_text())
    done = _setup(home, "codex", "--write", "--log-level", "DEBUG", on_path=codex_bin.parent)
    assert done.returncode == 0, done.stderr
    assert "codex mcp add put the vertexsms entry" in done.stderr
    (backup,) = config.parent.glob("config.toml.*.bak")
    assert tomllib.loads(backup.read_text()) == before
    after = tomllib.loads(config.read_text())
    assert after["model"] == "o3"
    assert after["mcp_servers"]["other"] == before["mcp_servers"]["other"]
    assert config.read_text().startswith("# mine\n")
    got = _codex_get(codex_bin, home, "vertexsms")["transport"]
    assert got["env"] == {"VERTEXSMS_LOG_LEVEL": "DEBUG"}
    again = _setup(home, "codex", "--write", "--log-level", "DEBUG", on_path=codex_bin.parent)
    assert "nothing changed" in again.stderr
    assert len(list(config.parent.glob("config.toml.*.bak"))) == 1


@pytest.mark.slow
def test_codex_write_merges_itself_when_codex_would_drop_comments(codex_bin: Path, home: Path) -> None:
    """Comments inside [mcp_servers] would be dropped by codex mcp add, so setup merges with
    tomlkit: the old text survives byte for byte, and Codex reads our table back."""
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    original = (
        '# my settings\nmodel = "o3"  # keep\n\n[mcp_servers.other]\n# why npx: see wiki\n'
        'command = "npx" # pinned\nargs = ["-y", "x#1"]\nenv = { A = "1" }\n'
    )
    config.write_text(original)
    done = _setup(home, "codex", "--write", "--sandbox", on_path=codex_bin.parent)
    assert done.returncode == 0, done.stderr
    assert "would drop the comments" in done.stderr
    assert config.read_text().startswith(original)
    servers = _codex_servers(home)
    assert servers["other"] == {"command": "npx", "args": ["-y", "x#1"], "env": {"A": "1"}}
    _assert_codex_schema(servers["vertexsms-sandbox"])
    assert _codex_get(codex_bin, home, "vertexsms-sandbox")["transport"]["env"] == {"VERTEXSMS_SANDBOX": "1"}
    # a changed entry replaces ours in place; everything else is still the same text
    _setup(home, "codex", "--write", "--sandbox", "--test-mode", "1", on_path=codex_bin.parent)
    assert config.read_text().startswith(original)
    assert servers["other"] == _codex_servers(home)["other"]
    assert _codex_servers(home)["vertexsms-sandbox"]["env"] == {
        "VERTEXSMS_SANDBOX": "1",
        "VERTEXSMS_TEST_MODE": "1",
    }


@pytest.mark.slow
def test_codex_without_its_cli_prints_toml_and_merges_codex_home(codex_bin: Path, home: Path) -> None:
    """No codex on PATH (e.g. only the ChatGPT desktop app): the printed TOML is Codex's schema,
    and --write creates $CODEX_HOME/config.toml, which the real Codex then reads."""
    codex_home = home / "elsewhere"
    env_home = ["--sandbox"]
    shown = _setup(home, "codex", *env_home)
    assert shown.returncode == 0, shown.stderr
    table = tomllib.loads(shown.stdout)["mcp_servers"]["vertexsms-sandbox"]
    _assert_codex_schema(table)
    env = _env(home) | {"CODEX_HOME": str(codex_home)}
    done = vertex(env, "setup", "codex", "--write", *env_home, cwd=home, timeout=120)
    assert done.returncode == 0, done.stderr
    written = tomllib.loads((codex_home / "config.toml").read_text())["mcp_servers"]["vertexsms-sandbox"]
    assert written == table
    got = subprocess.run(
        [str(codex_bin), "mcp", "get", "vertexsms-sandbox", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(home) | {"CODEX_HOME": str(codex_home)},
        check=True,
    )
    assert json.loads(got.stdout)["transport"]["command"] == table["command"]


@pytest.mark.slow
def test_codex_forwards_the_desktop_session_the_server_needs(codex_bin: Path, home: Path) -> None:
    """Codex passes a stdio server only a few variables (HOME, PATH, LANG, ...: measured), so in a
    Linux session with D-Bus and XDG folders the entry lists them in ``env_vars``; ``codex mcp add``
    cannot, so the TOML is printed and merged, and Codex reads ``env_vars`` back."""
    session = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus", "XDG_STATE_HOME": str(home / "st")}
    env = _env(home, codex_bin.parent) | session
    shown = vertex(env, "setup", "codex", cwd=home, timeout=120)
    assert shown.returncode == 0, shown.stderr
    table = tomllib.loads(shown.stdout)["mcp_servers"]["vertexsms"]
    expected = (
        ["DBUS_SESSION_BUS_ADDRESS", "XDG_STATE_HOME"] if sys.platform not in ("darwin", "win32") else []
    )
    assert table.get("env_vars", []) == expected
    _assert_codex_schema(table)
    done = vertex(env, "setup", "codex", "--write", cwd=home, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _codex_get(codex_bin, home, "vertexsms")["transport"]["env_vars"] == expected


@pytest.mark.slow
@pytest.mark.parametrize("with_cli", [True, False])
def test_codex_malformed_file_is_refused_untouched(codex_bin: Path, home: Path, with_cli: bool) -> None:
    """A config.toml that is not TOML is left byte for byte, with no backup, whoever would write it."""
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_bytes(b'model = "o3"\n[mcp_servers.other\ncommand = 1\n')
    done = _setup(home, "codex", "--write", on_path=codex_bin.parent if with_cli else None)
    assert done.returncode == 1
    assert "not valid TOML" in done.stderr
    assert config.read_bytes() == b'model = "o3"\n[mcp_servers.other\ncommand = 1\n'
    assert list(config.parent.iterdir()) == [config]


# --- Gemini CLI --------------------------------------------------------------------------------


def _trust(home: Path) -> None:
    """Trust the working folder, as a user does when gemini first asks (else it starts no server)."""
    (home / ".gemini").mkdir(exist_ok=True)
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(home / "work"): "TRUST_FOLDER"}))


def _gemini_list(gemini_bin: Path, home: Path) -> str:
    """``gemini mcp list`` (it prints the list on stderr)."""
    done = _run([str(gemini_bin), "mcp", "list"], home)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_gemini_runs_the_printed_command_and_connects(gemini_bin: Path, home: Path) -> None:
    """The printed ``gemini mcp add`` runs as printed; ``gemini mcp list`` starts our server and
    reports it connected; the file matches the documented schema."""
    _trust(home)
    done = _setup(home, "gemini", "--sandbox", "--log-level", "DEBUG", on_path=gemini_bin.parent)
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout)
    assert words[:5] == ["gemini", "mcp", "add", "--scope", "user"]
    added = _run(words, home, gemini_bin.parent)
    assert added.returncode == 0, added.stderr + added.stdout
    entry = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"]["vertexsms-sandbox"]
    assert set(entry) <= GEMINI_KEYS
    assert entry["env"] == {"VERTEXSMS_SANDBOX": "1", "VERTEXSMS_LOG_LEVEL": "DEBUG"}
    listed = _gemini_list(gemini_bin, home)
    line = next(line for line in listed.splitlines() if "vertexsms-sandbox" in line)
    assert "Connected" in line, listed


@pytest.mark.slow
def test_gemini_write_keeps_comments_and_backs_up(gemini_bin: Path, home: Path) -> None:
    """``--write`` runs gemini mcp add (user scope): the comments and the other server stay,
    the previous file is saved, and a re-run changes nothing."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(
        '{\n  // my theme\n  "theme": "Default",\n  "mcpServers": {"other": {"command": "npx"}}\n}\n'
    )
    done = _setup(home, "gemini", "--write", "--test-mode", "2", on_path=gemini_bin.parent)
    assert done.returncode == 0, done.stderr
    assert "gemini mcp add put the vertexsms entry" in done.stderr
    text = settings.read_text()
    assert "// my theme" in text
    assert (home / "work" / ".gemini").exists() is False  # not the project scope
    listed = _gemini_list(gemini_bin, home)
    assert "vertexsms:" in listed
    assert "other:" in listed
    assert len(list(settings.parent.glob("settings.json.*.bak"))) == 1
    again = _setup(home, "gemini", "--write", "--test-mode", "2", on_path=gemini_bin.parent)
    assert "nothing changed" in again.stderr


@pytest.mark.slow
def test_gemini_value_the_cli_would_cut_goes_into_the_file(gemini_bin: Path, home: Path) -> None:
    """``gemini mcp add -e K=a=b`` keeps only ``a``: such an entry is printed as JSON and merged
    into settings.json directly, where gemini reads the whole value."""
    api = "https://api.example.test/v1?region=eu"
    done = _setup(home, "gemini", "--write", "--api-url", api, on_path=gemini_bin.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mcpServers"]["vertexsms"]["env"] == {"VERTEXSMS_API_URL": api}
    entry = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"]["vertexsms"]
    assert entry["env"] == {"VERTEXSMS_API_URL": api}
    assert "vertexsms:" in _gemini_list(gemini_bin, home)


# --- both: --connect and the token ---------------------------------------------------------------


@pytest.mark.slow
def test_connect_entries_for_codex_and_gemini(codex_bin: Path, gemini_bin: Path, home: Path) -> None:
    """``--connect URL`` gives each client an entry that runs ``connect URL``, read back by its CLI."""
    assert _setup(home, "codex", "--write", "--connect", URL, on_path=codex_bin.parent).returncode == 0
    assert _setup(home, "gemini", "--write", "--connect", URL, on_path=gemini_bin.parent).returncode == 0
    expected = ["connect", URL, "--name", "mcp.example.test"]
    assert _codex_get(codex_bin, home, "mcp.example.test")["transport"]["args"] == expected
    gemini = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"]["mcp.example.test"]
    assert gemini["args"] == expected
    listed = _gemini_list(gemini_bin, home)
    assert f"connect {URL} --name mcp.example.test" in listed


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        yield emu


@pytest.mark.slow
@pytest.mark.parametrize("client", ["codex", "gemini"])
def test_the_token_is_kept_and_in_no_file_and_no_command(
    client: str, codex_bin: Path, gemini_bin: Path, home: Path, emulator: Emulator
) -> None:
    """``--api-token`` (piped in) is checked and kept in the keyring; it never reaches the entry,
    the printed command (the client CLI's argv), the output or any file."""
    bin_dir = (codex_bin if client == "codex" else gemini_bin).parent
    env = _env(home, bin_dir) | {
        "PYTHON_KEYRING_BACKEND": "os_keyring.FileOsKeyring",
        "TEST_KEYRING_FILE": str(home / "keyring.json"),
        "PYTHONPATH": str(SUPPORT),
        "VERTEXSMS_API_URL": emulator.api_url,
        "VERTEXSMS_MCP_URL": emulator.mcp_url,
    }
    done = vertex(
        env, "setup", client, "--write", "--api-token", stdin=TOKEN + "\n", cwd=home / "work", timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert "was checked with VertexSMS and kept in keyring" in done.stderr
    assert_no_secret(TOKEN, done.stdout, done.stderr)
    assert assert_no_secret_in_files(TOKEN, home) >= 2
    text = (home / (".codex/config.toml" if client == "codex" else ".gemini/settings.json")).read_text()
    assert "VERTEXSMS_API_TOKEN" not in text


# --- setup with no client -----------------------------------------------------------------------


@pytest.mark.slow
def test_setup_without_a_client_names_the_installed_ones(codex_bin: Path, home: Path) -> None:
    """Found by folder (~/.cursor, ~/.gemini, Windsurf's) or program on PATH (codex); each printed command
    runs as printed and carries the options given; clients not installed are not listed."""
    (home / ".cursor").mkdir()
    (home / ".gemini").mkdir()
    (home / ".codeium" / "windsurf").mkdir(parents=True)
    only_codex = home / "bin"  # node_modules/.bin also holds claude and gemini
    only_codex.mkdir()
    (only_codex / "codex").symlink_to(codex_bin)
    done = _setup(home, "--sandbox", on_path=only_codex)
    assert done.returncode == 0, done.stderr
    commands = [line.strip() for line in done.stdout.splitlines() if line.startswith("    ")]
    assert [shlex.split(c)[-3] for c in commands] == ["cursor", "windsurf", "codex", "gemini"]
    assert "Claude Code" not in done.stdout
    assert "VS Code" not in done.stdout
    assert "`codex` is on PATH" in done.stdout
    assert "~/.cursor exists" in done.stdout
    assert "~/.gemini exists" in done.stdout
    codex_line = next(c for c in commands if " codex " in c)
    ran = _run(shlex.split(codex_line), home, codex_bin.parent)
    assert ran.returncode == 0, ran.stderr
    assert _codex_get(codex_bin, home, "vertexsms-sandbox")["transport"]["env"] == {"VERTEXSMS_SANDBOX": "1"}


@pytest.mark.slow
def test_setup_without_a_client_on_a_bare_machine(home: Path) -> None:
    """Nothing installed: exit 1, naming every client setup knows."""
    done = _setup(home)
    assert done.returncode == 1
    assert "No MCP client found" in done.stdout
    assert "codex" in done.stdout
    assert "gemini" in done.stdout
