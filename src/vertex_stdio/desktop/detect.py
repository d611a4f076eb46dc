"""``vertex-stdio setup`` with no client: which clients are installed here, and the command for each.

A client counts as installed when its configuration folder exists or its program is on ``PATH``
(both looked up through the ``home``, ``env`` and ``path`` seams, so tests give a made-up machine).
Nothing is written and nothing is run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK
from vertex_stdio.core.launcher import command
from vertex_stdio.desktop import clients
from vertex_stdio.desktop.formats import places

# client -> (its folders, relative to the home folder, and its programs). A client's own settings
# variable (CODEX_HOME, GEMINI_CLI_HOME) is honoured through clients.config_path in _folders.
_MARKERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "claude-desktop": ((), ()),  # its folder depends on the OS: see _folders
    "claude-code": ((".claude", ".claude.json"), ("claude",)),
    "cursor": ((".cursor",), ("cursor",)),
    "vscode": ((".vscode",), ("code",)),
    "codex": ((), ("codex",)),
    "gemini": ((), ("gemini",)),
    # Their folders are desktop/formats/places.installed's (per OS); their command-line programs:
    "windsurf": ((), ("windsurf",)),
    "zed": ((), ("zed",)),
    "cline": ((), ("cline",)),
    "goose": ((), ("goose",)),
    "continue": ((), ("cn",)),
    "lmstudio": ((), ("lms",)),
    "jetbrains": ((), ()),
}


def _folders(client: str, home: Path, env: Mapping[str, str], platform: str) -> list[Path]:
    folders = [home / rel for rel in _MARKERS[client][0]]
    if client in ("claude-desktop", "codex", "gemini"):
        path = clients.config_path(client, platform=platform, env=env, home=home)
        if path is not None:
            folders.append(path.parent)
    return folders


def installed(
    *,
    home: Path | None = None,
    env: Mapping[str, str] = os.environ,
    path: str | None = None,
    platform: str = sys.platform,
) -> list[tuple[clients.Client, str]]:
    """The clients found here, in ``CLIENTS`` order, each with what gave it away (a folder or program)."""
    home = home or Path.home()
    path = env.get("PATH", os.defpath) if path is None else path
    found: list[tuple[clients.Client, str]] = []
    for name, client in clients.CLIENTS.items():
        if name not in _MARKERS:
            continue
        program = next((p for p in _MARKERS[name][1] if shutil.which(p, path=path)), None)
        folder = next((f for f in _folders(name, home, env, platform) if f.exists()), None)
        if program is not None:
            found.append((client, f"`{program}` is on PATH"))
        elif folder is not None:
            found.append((client, f"{_tilde(folder, home)} exists"))
        elif name in clients.FORMAT_CLIENTS and places.installed(name, platform=platform, env=env, home=home):
            found.append((client, "its settings folder exists"))
    return found


def _tilde(path: Path, home: Path) -> str:
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)


def run_list(out: TextIO, flags: Sequence[str] = (), *, home: Path | None = None) -> int:
    """Print each installed client with the ``setup`` command that adds us to it (``flags`` carried).

    Exit 0 when at least one was found, 1 when none was (the message names every client we know).
    """
    found = installed(home=home)
    extra = "".join(f" {shlex.quote(word)}" for word in flags)
    every = ", ".join(clients.CLIENTS)
    if not found:
        out.write(
            "No MCP client found on this machine (looked for their settings folders and programs on "
            f"PATH). Name one to see its entry: {command('setup CLIENT' + extra)} (CLIENT: {every}).\n"
        )
        return EXIT_FIXABLE
    out.write("MCP clients found on this machine, each with the command that adds vertex-stdio to it:\n")
    for client, why in found:
        out.write(f"\n  {client.label} ({why}):\n    {command(f'setup {client.name} --write{extra}')}\n")
    out.write(
        "\nLeave out --write to see the entry first. Every client setup knows: "
        f"{every} (codex also covers the ChatGPT desktop app).\n"
    )
    return EXIT_OK
