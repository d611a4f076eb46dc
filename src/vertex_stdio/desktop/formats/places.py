"""Where each client keeps its MCP servers, per OS, as its own documentation says.

Pure: every function takes the platform, environment and home folder, so a test can ask for
Windows paths on Linux.  Sources (also cited in tests/desktop/test_setup_file_clients.py):

- Windsurf: docs.windsurf.com/windsurf/cascade/mcp, ``~/.codeium/windsurf/mcp_config.json``
  (Windows ``%USERPROFILE%\\.codeium\\windsurf\\mcp_config.json``).
- Zed: zed.dev/docs/ai/mcp (``settings.json``); the folder is Zed's ``paths::config_dir``
  (crates/paths): ``%APPDATA%\\Zed`` on Windows, ``$FLATPAK_XDG_CONFIG_HOME`` or
  ``$XDG_CONFIG_HOME``/zed on Linux, ``~/.config/zed`` on macOS.
- Cline: docs.cline.bot/mcp/configuring-mcp-servers (``cline_mcp_settings.json``), kept in VS
  Code's globalStorage for the extension ``saoudrizwan.claude-dev``; the Cline CLI reads
  ``~/.cline/data/settings/cline_mcp_settings.json``.
- Goose: aaif-goose/goose documentation/docs/guides/config-files.md,
  ``~/.config/goose/config.yaml`` (Windows ``%APPDATA%\\Block\\goose\\config\\config.yaml``).
- Continue: docs.continue.dev/customize/deep-dives/mcp, ``~/.continue/config.yaml`` or a block
  file in ``~/.continue/mcpServers/``; ``CONTINUE_GLOBAL_DIR`` moves ``~/.continue``.
- LM Studio: lmstudio-ai/docs 0_app/2_mcp (``mcp.json``, "Cursor's notation"), in ``~/.lmstudio``.
- JetBrains AI Assistant: jetbrains.com/help/ai-assistant/mcp.html: Settings | Tools | AI
  Assistant | Model Context Protocol (MCP); it keeps servers in the IDE's settings, no file of its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# The settings page JetBrains AI Assistant adds servers on (it reads no file we could merge into).
JETBRAINS_SETTINGS = "Settings | Tools | AI Assistant | Model Context Protocol (MCP)"
CLINE_EXTENSION = "saoudrizwan.claude-dev"


def _config_home(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_CONFIG_HOME`` (Linux), ``~/.config`` (macOS: Zed and Goose use it there too)."""
    if platform == "darwin":
        return home / ".config"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def _appdata(env: Mapping[str, str], home: Path) -> Path:
    return Path(env.get("APPDATA") or home / "AppData" / "Roaming")


def _vscode_user(platform: str, env: Mapping[str, str], home: Path) -> Path:
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Code" / "User"
    if platform == "win32":
        return _appdata(env, home) / "Code" / "User"
    return _config_home(platform, env, home) / "Code" / "User"


def zed_dir(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """Zed's config folder (its ``paths::config_dir``)."""
    if platform == "win32":
        return _appdata(env, home) / "Zed"
    if platform == "darwin":
        return home / ".config" / "zed"
    return Path(env.get("FLATPAK_XDG_CONFIG_HOME") or _config_home(platform, env, home)) / "zed"


def continue_dir(env: Mapping[str, str], home: Path) -> Path:
    """Continue's global folder: ``$CONTINUE_GLOBAL_DIR`` when absolute, else ``~/.continue``."""
    custom = env.get("CONTINUE_GLOBAL_DIR")
    return Path(custom) if custom and Path(custom).is_absolute() else home / ".continue"


def cline_paths(platform: str, env: Mapping[str, str], home: Path) -> tuple[Path, Path]:
    """(the VS Code extension's file, the Cline CLI's file)."""
    extension = _vscode_user(platform, env, home) / "globalStorage" / CLINE_EXTENSION
    return (
        extension / "settings" / "cline_mcp_settings.json",
        home / ".cline" / "data" / "settings" / "cline_mcp_settings.json",
    )


def _cline(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """The extension's file, unless only the CLI has been run on this machine."""
    extension, cli = cline_paths(platform, env, home)
    if not extension.parent.parent.exists() and cli.parent.parent.exists():
        return cli
    return extension


def config_file(
    client: str,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> Path | None:
    """The file ``client`` reads its MCP servers from on this OS; None for JetBrains (no file)."""
    home = home or Path.home()
    if client == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    if client == "zed":
        return zed_dir(platform, env, home) / "settings.json"
    if client == "cline":
        return _cline(platform, env, home)
    if client == "goose":
        if platform == "win32":
            return _appdata(env, home) / "Block" / "goose" / "config" / "config.yaml"
        return _config_home(platform, env, home) / "goose" / "config.yaml"
    if client == "continue":
        return continue_dir(env, home) / "config.yaml"
    if client == "lmstudio":
        return home / ".lmstudio" / "mcp.json"
    return None


def installed(
    client: str,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> bool:
    """True when ``client`` has left its folder on this machine (it has been run at least once)."""
    home = home or Path.home()
    if client == "jetbrains":
        return any(p.exists() for p in _jetbrains_dirs(platform, env, home))
    if client == "cline":
        return any(p.parent.parent.exists() for p in cline_paths(platform, env, home))
    path = config_file(client, platform=platform, env=env, home=home)
    return path is not None and path.parent.exists()


def _jetbrains_dirs(platform: str, env: Mapping[str, str], home: Path) -> list[Path]:
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "JetBrains"]
    if platform == "win32":
        return [_appdata(env, home) / "JetBrains"]
    return [_config_home(platform, env, home) / "JetBrains"]
