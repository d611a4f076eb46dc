"""Desktop clients we can set up: where each keeps its MCP config, and the entry that runs us.

Pure apart from reading the environment and resolving our own executable; no file is written here.
Desktop apps do not see the login shell's ``PATH``, so every entry names an absolute command.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "vertexsms"
SCRIPT_NAME = "vertex-stdio"


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
}


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
        if platform == "darwin":
            base = home / "Library" / "Application Support"
        elif platform == "win32":
            base = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        else:
            base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        return base / "Claude" / "claude_desktop_config.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return (cwd or Path.cwd()) / ".vscode" / "mcp.json"
    return None


def _is_uvx_cache(path: Path) -> bool:
    """True when ``path`` lives in uv's disposable tool cache (gone after ``uv cache clean``)."""
    return any(part.startswith("archive-v") for part in path.parts)


def server_command(argv0: str | None = None, executable: str | None = None) -> list[str]:
    """The absolute command that starts this installation of vertex-stdio.

    Tries, in order: the running ``vertex-stdio`` script (``argv[0]``), the script next to this
    interpreter, ``vertex-stdio`` on PATH, and finally ``<python> -m vertex_stdio``.  A script in
    uvx's temporary cache is replaced by ``<abs uvx> vertex-stdio``, which survives cache clean-ups.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = executable or sys.executable
    candidates: list[Path] = []
    if argv0 and Path(argv0).stem == SCRIPT_NAME:
        candidates.append(Path(argv0))
    bin_dir = Path(executable).parent
    candidates += [bin_dir / SCRIPT_NAME, bin_dir / f"{SCRIPT_NAME}.exe"]
    found = shutil.which(SCRIPT_NAME)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            resolved = candidate.absolute()
            uvx = shutil.which("uvx")
            if _is_uvx_cache(resolved) and uvx:
                return [str(Path(uvx).absolute()), SCRIPT_NAME]
            return [str(resolved)]
    return [str(Path(executable).absolute()), "-m", "vertex_stdio"]


def server_entry(
    client: Client,
    command: list[str],
    *,
    sandbox: bool,
    api_token: str | None,
    platform: str = sys.platform,
) -> dict[str, Any]:
    """The server entry for ``client``: command, args and only the env the user asked for."""
    env: dict[str, str] = {}
    if sandbox:
        env["VERTEXSMS_SANDBOX"] = "1"
    if api_token:
        env["VERTEXSMS_API_TOKEN"] = api_token
    if platform == "win32":
        env["PYTHONIOENCODING"] = "utf-8"
    entry: dict[str, Any] = {"type": "stdio"} if client.needs_type else {}
    entry |= {"command": command[0], "args": command[1:]}
    if env:
        entry["env"] = env
    return entry


def claude_code_command(entry: Mapping[str, Any]) -> str:
    """The ``claude mcp add`` line that registers ``entry`` for every project of this user."""
    parts = ["claude", "mcp", "add", "--scope", "user"]
    for key, value in entry.get("env", {}).items():
        parts += ["-e", f"{key}={value}"]
    parts += [SERVER_NAME, "--", entry["command"], *entry["args"]]
    return shlex.join(parts)
