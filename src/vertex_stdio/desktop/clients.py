"""Desktop clients we can set up: where each keeps its MCP config, and the entry that runs us.

Pure apart from reading the environment and resolving our own installation; no file is written
here.  Desktop apps do not see the login shell's ``PATH``, so every entry names an absolute command.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# setup writes the same launcher every printed command names (one detection, in core)
from vertex_stdio.core.launcher import SCRIPT_NAME as SCRIPT_NAME
from vertex_stdio.core.launcher import command
from vertex_stdio.core.launcher import install_spec as install_spec
from vertex_stdio.core.launcher import server_command as server_command
from vertex_stdio.desktop.formats import places

SERVER_NAME = "vertexsms"
SANDBOX_NAME = "vertexsms-sandbox"
TOKEN_VAR = "VERTEXSMS_API_TOKEN"  # noqa: S105 - a variable name, not a secret
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Client:
    """One MCP client: its display name, the top-level key that holds servers, and its config file."""

    name: str
    label: str
    servers_key: str
    needs_type: bool = False


CLIENTS: dict[str, Client] = {
    "claude-desktop": Client("claude-desktop", "Claude Desktop", "mcpServers"),
    "claude-code": Client("claude-code", "Claude Code", "mcpServers"),
    "cursor": Client("cursor", "Cursor", "mcpServers"),
    "vscode": Client("vscode", "VS Code", "servers", needs_type=True),
    # Each in its own documented format and place: desktop/formats/ (places, entries, run).
    "windsurf": Client("windsurf", "Windsurf", "mcpServers"),
    "zed": Client("zed", "Zed", "context_servers"),
    "cline": Client("cline", "Cline", "mcpServers"),
    "goose": Client("goose", "goose", "extensions"),
    "continue": Client("continue", "Continue", "mcpServers"),
    "lmstudio": Client("lmstudio", "LM Studio", "mcpServers"),
    "jetbrains": Client("jetbrains", "JetBrains AI Assistant", "mcpServers"),
    # One file for the Codex CLI, its IDE extension and the ChatGPT desktop app (TOML, see codex.py).
    "codex": Client("codex", "Codex (CLI, IDE extension, ChatGPT desktop)", "mcp_servers"),
    "gemini": Client("gemini", "Gemini CLI", "mcpServers"),
}
# The clients desktop/formats/run.py sets up (each file in its own format; no token ever written).
FORMAT_CLIENTS = frozenset({"windsurf", "zed", "cline", "goose", "continue", "lmstudio", "jetbrains"})
# Clients with their own ``mcp add`` command as well as a file (desktop/cli_client.py).
CLI_CLIENTS = frozenset({"codex", "gemini"})


def valid_name(name: str) -> bool:
    """True for an entry name every client accepts: letters, digits, ``-``, ``_``, ``.``; ≤ 64."""
    return _NAME.fullmatch(name) is not None


def _user_config_dir(platform: str, env: Mapping[str, str], home: Path) -> Path:
    if platform == "darwin":
        return home / "Library" / "Application Support"
    if platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def config_path(
    client: str,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The config file ``client`` reads on this OS; None for Claude Code (it has its own command)."""
    home = home or Path.home()
    if client == "claude-desktop":
        return _user_config_dir(platform, env, home) / "Claude" / "claude_desktop_config.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return (cwd or Path.cwd()) / ".vscode" / "mcp.json"
    if client in FORMAT_CLIENTS:
        return places.config_file(client, platform=platform, env=env, home=home)
    if client == "codex":  # CODEX_HOME moves the whole folder (Codex's config reference)
        return Path(env.get("CODEX_HOME") or home / ".codex") / "config.toml"
    if client == "gemini":  # GEMINI_CLI_HOME stands in for the home folder (read in gemini's source)
        return Path(env.get("GEMINI_CLI_HOME") or home) / ".gemini" / "settings.json"
    return None


def vscode_user_path(
    *, platform: str = sys.platform, env: Mapping[str, str] = os.environ, home: Path | None = None
) -> Path:
    """VS Code's user-level MCP file (the one "MCP: Open User Configuration" opens)."""
    return _user_config_dir(platform, env, home or Path.home()) / "Code" / "User" / "mcp.json"


def path_problem(client: Client, path: Path, *, home: Path | None = None) -> tuple[bool, str] | None:
    """Why ``client`` would not read ``path``: ``(refuse, message)``, or None when it would.

    Refused: ``~/.vscode/mcp.json`` (that folder holds VS Code's extensions; nothing reads an MCP
    file there).  Warned: a file name or folder the client never looks in.
    """
    home = (home or Path.home()).absolute()
    path = path.absolute()
    if client.name == "vscode":
        user = vscode_user_path(home=home)
        if path == home / ".vscode" / "mcp.json":
            return True, (
                f"VS Code does not read {path} (~/.vscode holds its extensions). Run setup inside your "
                f"workspace folder for <workspace>/.vscode/mcp.json, or use your user-level file: "
                + command(f"setup vscode --write --config {shlex.quote(str(user))}")
            )
        if path.name != "mcp.json" or path.parent.name not in (".vscode", "User"):
            return False, f"VS Code reads <workspace>/.vscode/mcp.json or {user}, not {path}."
    if client.name == "cursor" and (path.name != "mcp.json" or path.parent.name != ".cursor"):
        return False, f"Cursor reads ~/.cursor/mcp.json or <project>/.cursor/mcp.json, not {path}."
    if client.name == "codex" and path.name != "config.toml":
        return (
            False,
            f"Codex reads {config_path('codex', home=home)} (or $CODEX_HOME/config.toml), not {path}.",
        )
    if client.name == "gemini" and (path.name != "settings.json" or path.parent.name != ".gemini"):
        return (
            False,
            f"Gemini CLI reads ~/.gemini/settings.json or <project>/.gemini/settings.json, not {path}.",
        )
    if client.name == "claude-desktop" and path.name != "claude_desktop_config.json":
        return False, f"Claude Desktop reads {config_path('claude-desktop', home=home)}, not {path}."
    return None


def server_entry(
    client: Client,
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    platform: str = sys.platform,
) -> dict[str, Any]:
    """The server entry for ``client``: command, args and only the env the user asked for."""
    full_env = dict(env)
    if platform == "win32":
        full_env["PYTHONIOENCODING"] = "utf-8"
    entry: dict[str, Any] = {"type": "stdio"} if client.needs_type else {}
    entry |= {"command": command[0], "args": list(command[1:])}
    if full_env:
        entry["env"] = full_env
    return entry


def claude_code_args(name: str, entry: Mapping[str, Any]) -> list[str]:
    """``claude mcp add`` arguments that register ``entry`` for every project of this user.

    The name comes before ``-e``: ``-e`` takes every following word up to ``--``, so a name
    after it is read as a variable and Claude Code refuses the command.
    """
    parts = ["mcp", "add", "--scope", "user", name]
    for key, value in entry.get("env", {}).items():
        parts += ["-e", f"{key}={value}"]
    return [*parts, "--", entry["command"], *entry["args"]]


def claude_code_command(name: str, entry: Mapping[str, Any]) -> str:
    """The ``claude mcp add`` line (shell-quoted) for ``entry``."""
    return shlex.join(["claude", *claude_code_args(name, entry)])
