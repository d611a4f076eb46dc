"""``setup codex`` and ``setup gemini``: clients with their own ``mcp add`` command *and* a file.

Which path is used when (the README says the same):

* **Printed**: the client's ``mcp add`` command when its program is on ``PATH`` (so it runs as
  printed) and can express the entry (not Codex's ``env_vars``: see ``codex.FORWARDED``); otherwise
  the snippet for its config file, and where.
* ``--write``: runs that command when it was printed and would lose nothing in the file (Codex
  rewrites its whole ``[mcp_servers]`` section, dropping comments there); otherwise merges the file
  itself, keeping comments (``codex.merge``, ``gemini.merge``).  Either way the previous file is
  backed up first, a file already holding the same entry is left alone, and a malformed one is
  refused untouched (the client's CLI refuses it too).
* ``--config PATH``: always the file merge, of that file (the CLIs write their own file only).

No token is ever put into the entry, the command line or the file: ``setup --api-token`` has kept
it in the keyring before we run (desktop/setup.py ``_place_token``), and says so afterwards.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK
from vertex_stdio.desktop import clients, codex, gemini
from vertex_stdio.desktop.clients import Client
from vertex_stdio.desktop.files import MergeResult, SetupError, backup_file
from vertex_stdio.desktop.merge import report


@dataclass(frozen=True)
class CliClient:
    """How one client is set up: its program, its command, its file and what to do afterwards."""

    program: str
    args: Callable[[str, Mapping[str, Any]], list[str] | None]
    snippet: Callable[[str, Mapping[str, Any]], str]
    has_entry: Callable[[Path, str, Mapping[str, Any]], bool]
    merge: Callable[[Path, str, Mapping[str, Any]], MergeResult]
    cli_would_lose: Callable[[Path], bool]
    after: str
    complete: Callable[[Mapping[str, Any]], Mapping[str, Any]] = dict


CLI_CLIENTS: dict[str, CliClient] = {
    "codex": CliClient(
        "codex",
        codex.codex_args,
        codex.snippet,
        codex.has_entry,
        codex.merge,
        codex.cli_would_lose_comments,
        "Restart Codex (a new `codex` session, or reload the IDE extension / ChatGPT desktop app); "
        "`codex mcp list` shows the entry.",
        codex.with_forwarded,
    ),
    "gemini": CliClient(
        "gemini",
        gemini.gemini_args,
        gemini.snippet,
        gemini.has_entry,
        gemini.merge,
        lambda _path: False,  # gemini mcp add keeps comments (measured, 0.61.0)
        "Start a new gemini session; `gemini mcp list` shows it. Gemini CLI starts MCP servers only "
        "in folders you trust (it asks the first time you open one).",
    ),
}


def run_cli_client(
    target: Client,
    name: str,
    entry: Mapping[str, Any],
    *,
    write: bool,
    config_path: Path | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print ``target``'s command (or snippet); with ``write``, run it or merge the file (see above)."""
    spec = CLI_CLIENTS[target.name]
    entry = spec.complete(entry)
    path = config_path or clients.config_path(target.name)
    assert path is not None  # every CLI client has a file
    problem = clients.path_problem(target, path)
    if problem is not None:
        err.write(f"vertex-stdio setup: {problem[1]}\n")
    argv = None if config_path else spec.args(name, entry)
    exe = shutil.which(spec.program) if argv is not None else None
    command = [spec.program, *argv] if argv is not None and exe is not None else None
    out.write(shlex.join(command) + "\n" if command else spec.snippet(name, entry))
    if not write:
        how = "Run this command" if command else f"Add this to {path}"
        err.write(f"{how} (or run again with --write to do it for you).\n")
        return EXIT_OK
    try:
        if spec.has_entry(path, name, entry):
            err.write(f"{path} already has this {name} entry; nothing changed.\n")
            return EXIT_OK
        if command is not None and exe is not None and spec.cli_would_lose(path):
            err.write(
                f"{spec.program} mcp add would drop the comments inside your [mcp_servers] tables, so "
                f"{path} is merged directly instead (comments and other servers kept).\n"
            )
            command = None
        if command is None or exe is None:
            report(err, name, spec.merge(path, name, entry))
        elif not _run(exe, command, name, path, err):
            return EXIT_FIXABLE
    except SetupError as exc:
        err.write(f"vertex-stdio setup: {exc}\n")
        return EXIT_FIXABLE
    err.write(spec.after + "\n")
    return EXIT_OK


def _run(exe: str, command: list[str], name: str, path: Path, err: TextIO) -> bool:
    """Back ``path`` up, then run the client's own ``mcp add``; False (said why) when it failed."""
    saved = None
    try:
        if path.exists():
            saved = backup_file(path)
        done = subprocess.run(  # noqa: S603 - the client's own arguments, no shell, no secret
            [exe, *command[1:]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        err.write(f"vertex-stdio setup: could not run {exe} ({exc}); run the command above yourself.\n")
        return False
    err.write(done.stdout + done.stderr)
    if done.returncode != 0:
        err.write(
            f"vertex-stdio setup: {command[0]} mcp add failed (exit {done.returncode}); see above. "
            f"{path} is as it was.\n"
        )
        return False
    err.write(f"{command[0]} mcp add put the {name} entry in {path}.\n")
    if saved is not None:
        err.write(f"The previous file is saved as {saved}.\n")
    return True
