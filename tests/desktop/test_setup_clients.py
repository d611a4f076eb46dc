"""``setup`` through the real program: every setting kept, VS Code prompts, entry names, and the
real Claude Code CLI accepting (and, with ``--write``, running) the command we print."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clis import installed
from setup_command import setup_env, setup_in

from bridge import vertex
from vertex_stdio.app.arguments import build_parser, setting_env, setting_options, settings_from
from vertex_stdio.vertexsms.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-abcdef-123456789"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    path.mkdir()
    return path


def _sample(action: argparse.Action) -> list[str]:
    """A valid command-line value for a setting option (switches take none)."""
    if action.nargs == 0:
        return [action.option_strings[0]]
    if action.choices:
        value = str(next(iter(action.choices)))
    elif action.type in (int, float):
        value = "7"
    elif "url" in action.dest:
        value = f"https://{action.dest.replace('_', '-')}.example.test"
    elif action.dest == "log_level":
        value = "DEBUG"
    else:
        value = f"sample-{action.dest}"
    return [action.option_strings[0], value]


def _setting_actions() -> list[argparse.Action]:
    return [a for a in setting_options()._actions if a.option_strings and a.dest != "api_token"]


@pytest.mark.slow
def test_every_setting_option_is_carried_into_the_entry(home: Path) -> None:
    """Each setting option (today's and any added later) reaches the entry as its VERTEXSMS_* value,
    and the server started from that entry reads the same settings as the command line gave."""
    flags = [word for action in _setting_actions() for word in _sample(action)]
    config = home / ".cursor" / "mcp.json"
    done = setup_in(home, "cursor", "--write", "--config", str(config), *flags)
    assert done.returncode == 0, done.stderr
    entry = json.loads(config.read_text())["mcpServers"]["vertexsms-sandbox"]
    expected = {f"VERTEXSMS_{a.dest.upper()}" for a in _setting_actions()}
    assert set(entry["env"]) == expected
    args = build_parser().parse_args(["setup", "cursor", *flags])
    assert Settings.from_env(entry["env"]) == settings_from(args, env={})
    config_source = (ROOT / "src" / "vertex_stdio" / "vertexsms" / "settings.py").read_text()
    assert all(f'"{name}"' in config_source for name in expected)  # Settings reads each one


@pytest.mark.slow
def test_test_mode_and_log_level_survive(home: Path) -> None:
    """The issue's case: ``setup cursor --test-mode 2 --log-level DEBUG --api-url ...`` keeps them all."""
    config = home / ".cursor" / "mcp.json"
    done = setup_in(
        home,
        "cursor",
        "--write",
        "--test-mode",
        "2",
        "--log-level",
        "DEBUG",
        "--api-url",
        "https://a.example",
    )
    assert done.returncode == 0, done.stderr
    env = json.loads(config.read_text())["mcpServers"]["vertexsms"]["env"]
    assert env == {
        "VERTEXSMS_TEST_MODE": "2",
        "VERTEXSMS_LOG_LEVEL": "DEBUG",
        "VERTEXSMS_API_URL": "https://a.example",
    }


def test_settings_from_the_environment_are_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only options given to setup are carried; the shell's VERTEXSMS_* variables are not."""
    monkeypatch.setenv("VERTEXSMS_TEST_MODE", "1")
    args = build_parser().parse_args(["setup", "cursor", "--log-level", "WARNING"])
    assert setting_env(args) == {"VERTEXSMS_LOG_LEVEL": "WARNING"}


@pytest.mark.slow
def test_vscode_asks_for_the_token_with_a_password_prompt(home: Path) -> None:
    """VS Code gets an ``inputs`` password prompt; the token is in no file and no output."""
    work = home / "project"
    config = work / ".vscode" / "mcp.json"
    config.parent.mkdir(parents=True)
    theirs = {"id": "other", "type": "promptString", "description": "x"}
    config.write_text(json.dumps({"inputs": [theirs], "servers": {}}))
    done = setup_in(home, "vscode", "--write", "--api-token", TOKEN, cwd=work)
    assert done.returncode == 0, done.stderr
    data = json.loads(config.read_text())
    assert data["inputs"] == [
        theirs,
        {
            "id": "vertexsms-token",
            "type": "promptString",
            "description": "VertexSMS API token",
            "password": True,
        },
    ]
    assert data["servers"]["vertexsms"]["env"] == {"VERTEXSMS_API_TOKEN": "${input:vertexsms-token}"}
    assert TOKEN not in config.read_text() + done.stdout + done.stderr
    assert "password prompt" in done.stderr
    again = setup_in(home, "vscode", "--write", "--api-token", TOKEN, cwd=work)
    assert "nothing changed" in again.stderr
    assert len(list(config.parent.glob("*.bak"))) == 1


@pytest.mark.slow
def test_vscode_refuses_the_home_folder_and_names_the_file_it_reads(home: Path) -> None:
    """From the home directory, ~/.vscode/mcp.json is refused; the printed alternative works."""
    done = setup_in(home, "vscode", "--write", cwd=home)
    assert done.returncode == 1
    assert not (home / ".vscode").exists()
    command = done.stderr.split("use your user-level file: ", 1)[1].strip()
    words = shlex.split(command)
    assert Path(words[0]).is_absolute()
    assert words[1] == "setup"
    again = subprocess.run(
        words, capture_output=True, text=True, timeout=120, cwd=home, env=setup_env(home), check=False
    )
    assert again.returncode == 0, again.stderr
    user_file = Path(words[-1])
    assert user_file.name == "mcp.json"
    assert user_file.parent.name == "User"
    assert "vertexsms" in json.loads(user_file.read_text())["servers"]


@pytest.mark.slow
def test_a_file_the_client_never_reads_is_warned_about(home: Path) -> None:
    """An explicit --config that the client does not read is written, with a warning naming the right one."""
    done = setup_in(home, "cursor", "--write", "--config", str(home / "cursor.json"))
    assert done.returncode == 0, done.stderr
    assert "Cursor reads ~/.cursor/mcp.json" in done.stderr


@pytest.mark.slow
def test_name_keeps_a_sandbox_entry_beside_the_real_one(home: Path) -> None:
    """``--write --sandbox`` adds ``vertexsms-sandbox``; ``--name`` picks any other name."""
    config = home / ".cursor" / "mcp.json"
    assert setup_in(home, "cursor", "--write").returncode == 0
    assert setup_in(home, "cursor", "--write", "--sandbox").returncode == 0
    assert setup_in(home, "cursor", "--write", "--name", "vertex-test", "--test-mode", "1").returncode == 0
    servers = json.loads(config.read_text())["mcpServers"]
    assert list(servers) == ["vertexsms", "vertexsms-sandbox", "vertex-test"]
    assert "env" not in servers["vertexsms"]
    assert servers["vertexsms-sandbox"]["env"] == {"VERTEXSMS_SANDBOX": "1"}
    bad = setup_in(home, "cursor", "--name", "no spaces")
    assert bad.returncode == 2
    assert "--name" in bad.stderr


# --- Claude Code, checked against the real CLI ---------------------------------------------------


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The real ``claude`` (npm ``@anthropic-ai/claude-code``, pinned in tests/support/client_clis)."""
    return installed("claude")


def _claude(claude_bin: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(claude_bin), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
        # `claude mcp list` health-checks each server within MCP_TIMEOUT (ms; honoured up to 60 s,
        # anthropics/claude-code#16837). The test asks whether the entry works, not how fast it
        # starts on a loaded machine (that is benchmarks/run.py's), so it gets the longest wait.
        env={**setup_env(home), "MCP_TIMEOUT": "60000"},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _claude_servers(home: Path) -> dict[str, Any]:
    servers: dict[str, Any] = json.loads((home / ".claude.json").read_text())["mcpServers"]
    return servers


@pytest.mark.slow
def test_claude_accepts_the_printed_command(claude_bin: Path, home: Path) -> None:
    """The printed ``claude mcp add`` line, run by the real claude, registers our entry with its env."""
    done = setup_in(home, "claude-code", "--sandbox", "--test-mode", "2")
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout.strip())
    assert words[0] == "claude"
    added = _claude(claude_bin, home, *words[1:])
    assert added.returncode == 0, added.stderr + added.stdout
    entry = _claude_servers(home)["vertexsms-sandbox"]
    assert entry["env"] == {"VERTEXSMS_SANDBOX": "1", "VERTEXSMS_TEST_MODE": "2"}
    assert entry["command"] == words[words.index("--") + 1]


@pytest.mark.slow
def test_write_runs_claude_and_the_server_connects(claude_bin: Path, home: Path) -> None:
    """``--write`` runs claude mcp add (replacing our entry on a re-run); claude then starts the
    server and reports it connected."""
    first = setup_in(home, "claude-code", "--write", "--sandbox", path_prefix=claude_bin.parent)
    assert first.returncode == 0, first.stderr
    again = setup_in(
        home, "claude-code", "--write", "--sandbox", "--log-level", "DEBUG", path_prefix=claude_bin.parent
    )
    assert again.returncode == 0, again.stderr
    assert _claude_servers(home)["vertexsms-sandbox"]["env"]["VERTEXSMS_LOG_LEVEL"] == "DEBUG"
    listed = _claude(claude_bin, home, "mcp", "list")
    assert "vertexsms-sandbox" in listed.stdout
    assert "Connected" in listed.stdout, listed.stdout


@pytest.mark.slow
def test_write_without_claude_says_so(home: Path, tmp_path: Path) -> None:
    """No ``claude`` on PATH: --write exits 1 and says to run the printed command."""
    env = setup_env(home)
    env["PATH"] = str(Path(sys.executable).parent)
    done = vertex(env, "setup", "claude-code", "--write", cwd=home, timeout=60)
    assert done.returncode == 1
    assert done.stdout.startswith("claude mcp add --scope user vertexsms -- ")
    assert "not on PATH" in done.stderr


# --- the launcher, from where setup was run ------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built with uv."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(dist), str(ROOT)], check=True, timeout=300)
    (built,) = dist.glob("*.whl")
    return built


def _unresolvable(done: subprocess.CompletedProcess[str]) -> bool:
    """uv could not fetch the wheel's dependencies (no index and nothing cached)."""
    return done.returncode != 0 and ("Failed to fetch" in done.stderr or "network" in done.stderr)


@pytest.mark.slow
def test_uvx_from_a_wheel_keeps_the_wheel(home: Path, wheel: Path) -> None:
    """Run under ``uvx --from <wheel>``, setup writes ``uvx --from <wheel> vertex-stdio``, which starts."""
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.skip("uvx is not installed")
    config = home / ".cursor" / "mcp.json"
    run = [uvx, "--from", str(wheel), "vertex-stdio", "setup", "cursor", "--write", "--test-mode", "2"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, env=setup_env(home), check=False)
    if _unresolvable(done):
        pytest.skip(f"uvx could not install the wheel's dependencies: {done.stderr[-200:]}")
    assert done.returncode == 0, done.stderr
    entry = json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert entry["args"][-3:] == ["--from", str(wheel), "vertex-stdio"]
    assert Path(entry["command"]).is_absolute()
    assert entry["env"] == {"VERTEXSMS_TEST_MODE": "2"}
    version = subprocess.run(
        [entry["command"], *entry["args"], "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert version.stdout.startswith("vertex-stdio ")


@pytest.mark.slow
def test_a_uv_tool_install_is_launched_from_its_bin_link(home: Path, wheel: Path, tmp_path: Path) -> None:
    """After ``uv tool install``, setup names the stable bin link (not the tool's inner venv), which starts."""
    uv = shutil.which("uv")
    assert uv is not None
    env = setup_env(home) | {"UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    done = subprocess.run(
        [uv, "tool", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if _unresolvable(done):
        pytest.skip(f"uv could not install the wheel's dependencies: {done.stderr[-200:]}")
    assert done.returncode == 0, done.stderr
    link = tmp_path / "bin" / "vertex-stdio"
    config = home / ".cursor" / "mcp.json"
    setup = subprocess.run(
        [str(link), "setup", "cursor", "--write", "--log-level", "WARNING"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=home,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    entry = json.loads(config.read_text())["mcpServers"]["vertexsms"]
    assert entry == {"command": str(link), "args": [], "env": {"VERTEXSMS_LOG_LEVEL": "WARNING"}}
    version = subprocess.run(
        [entry["command"], "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("vertex-stdio ")
