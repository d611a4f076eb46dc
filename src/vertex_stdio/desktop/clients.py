"""Desktop clients we can set up: where each keeps its MCP config, and the entry that runs us.

Pure apart from reading the environment and resolving our own installation; no file is written
here.  Desktop apps do not see the login shell's ``PATH``, so every entry names an absolute command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

SERVER_NAME = "vertexsms"
SANDBOX_NAME = "vertexsms-sandbox"
SCRIPT_NAME = "vertex-stdio"
DIST_NAME = "vertex-stdio"
TOKEN_VAR = "VERTEXSMS_API_TOKEN"  # noqa: S105 - a variable name, not a secret
# What Claude Code expands from its own environment when it starts the server (checked with the
# real CLI: ``claude mcp list`` launches the server with the value), so no token sits in argv or
# in ~/.claude.json.
TOKEN_FROM_ENV = "${" + TOKEN_VAR + "}"
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
}


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
                f"vertex-stdio setup vscode --write --config {shlex.quote(str(user))}"
            )
        if path.name != "mcp.json" or path.parent.name not in (".vscode", "User"):
            return False, f"VS Code reads <workspace>/.vscode/mcp.json or {user}, not {path}."
    if client.name == "cursor" and (path.name != "mcp.json" or path.parent.name != ".cursor"):
        return False, f"Cursor reads ~/.cursor/mcp.json or <project>/.cursor/mcp.json, not {path}."
    if client.name == "claude-desktop" and path.name != "claude_desktop_config.json":
        return False, f"Claude Desktop reads {config_path('claude-desktop', home=home)}, not {path}."
    return None


def _is_uvx_cache(path: Path) -> bool:
    """True when ``path`` lives in uv's disposable tool cache (gone after ``uv cache clean``)."""
    return any(part.startswith("archive-v") for part in path.parts)


def install_spec(direct_url: str | None) -> str | None:
    """What ``uvx --from`` needs to install this same build again (PEP 610 ``direct_url.json``).

    None for an install from an index, where the plain name is enough.  A local wheel or folder
    becomes its absolute path; a VCS install its ``git+URL@commit``; any other URL stays a URL.
    """
    if not direct_url:
        return None
    try:
        info = json.loads(direct_url)
    except ValueError:
        return None
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str):
        return None
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        return f"{vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return url2pathname(unquote(parts.path))
    return url


def _our_direct_url() -> str | None:
    try:
        return metadata.distribution(DIST_NAME).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None


def _uvx(env: Mapping[str, str]) -> list[str] | None:
    """Absolute ``uvx`` (next to the ``uv`` that started us when uv says which), else ``uv tool run``."""
    uv = env.get("UV")
    if uv and Path(uv).is_file():
        sibling = Path(uv).with_name("uvx" + Path(uv).suffix)
        return [str(sibling)] if sibling.is_file() else [str(Path(uv).absolute()), "tool", "run"]
    found = shutil.which("uvx")
    return [str(Path(found).absolute())] if found else None


def server_command(
    argv0: str | None = None,
    executable: str | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    direct_url: str | None = None,
) -> list[str]:
    """The absolute command that starts this installation of vertex-stdio again.

    Tries, in order: the running ``vertex-stdio`` script (``argv[0]``; a venv's or a ``uv tool``
    install's), the script next to this interpreter, ``vertex-stdio`` on PATH, and finally
    ``<python> -m vertex_stdio``.  A script in uvx's temporary cache becomes ``<abs uvx> [--from
    SPEC] vertex-stdio`` (SPEC: the wheel, folder or VCS URL it was run from), which survives
    cache clean-ups.  ``direct_url`` is a seam for tests (default: our own ``direct_url.json``).
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
            uvx = _uvx(env) if _is_uvx_cache(resolved) else None
            if uvx:
                spec = install_spec(direct_url if direct_url is not None else _our_direct_url())
                return [*uvx, *(["--from", spec] if spec else []), SCRIPT_NAME]
            return [str(resolved)]
    return [str(Path(executable).absolute()), "-m", "vertex_stdio"]


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
