"""``vertex-stdio setup CLIENT [--write]``: print, or safely merge, this machine's server entry.

Merging never loses data: a malformed or unreadable config file, or one whose servers key is not
an object, is refused untouched (exit 1); otherwise the original is copied to a timestamped backup,
only our own entry is added or replaced, and the new file takes the old one's place atomically
(a temporary file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.desktop import clients
from vertex_stdio.desktop.clients import CLIENTS, SERVER_NAME, Client, claude_code_command
from vertex_stdio.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE


class SetupError(Exception):
    """The config file cannot be merged safely; the message says why and what to do."""


@dataclass(frozen=True)
class MergeResult:
    """What ``merge_entry`` did to the file."""

    path: Path
    changed: bool
    created: bool
    backup: Path | None


def run_setup(
    client: str,
    *,
    write: bool,
    config_path: Path | None,
    out: TextIO,
    err: TextIO,
    sandbox: bool,
    api_token: str | None = None,
) -> int:
    """Print ``client``'s entry for this machine on ``out``; with ``write``, merge it into the file.

    ``api_token`` goes into the entry only when given here (never from the environment), with a
    warning.  Returns 0 on success, 1 when the file cannot be merged safely, 2 for an unknown client.
    """
    target = CLIENTS.get(client)
    if target is None:
        err.write(f"vertex-stdio setup: unknown client {client!r}; choose one of {', '.join(CLIENTS)}.\n")
        return EXIT_USAGE
    entry = clients.server_entry(target, clients.server_command(), sandbox=sandbox, api_token=api_token)
    if target.name == "claude-code":
        out.write(claude_code_command(entry) + "\n")
        if write:
            err.write("vertex-stdio setup: Claude Code keeps its own config; run the command above.\n")
        return _token_warning(err, api_token, None)
    path = config_path or _default_path(target)
    out.write(json.dumps({target.servers_key: {SERVER_NAME: entry}}, indent=2, ensure_ascii=False) + "\n")
    if not write:
        err.write(f"Add this to {path} (or run again with --write to merge it in).\n")
        return _token_warning(err, api_token, None)
    try:
        result = merge_entry(path, target.servers_key, SERVER_NAME, entry, private=bool(api_token))
    except SetupError as exc:
        err.write(f"vertex-stdio setup: {exc}\n")
        return EXIT_FIXABLE
    _report(err, target, result)
    return _token_warning(err, api_token, result.path)


def _default_path(target: Client) -> Path:
    path = clients.config_path(target.name)
    if path is None:
        raise ValueError(f"{target.label} has no config file of ours to write")
    return path


def _report(err: TextIO, target: Client, result: MergeResult) -> None:
    if not result.changed:
        err.write(f"{result.path} already has this {SERVER_NAME} entry; nothing changed.\n")
        return
    verb = "Created" if result.created else "Updated"
    err.write(f"{verb} {result.path} with the {SERVER_NAME} entry.\n")
    if result.backup:
        err.write(f"The previous file is saved as {result.backup}.\n")
    if target.name == "claude-desktop":
        err.write("Quit Claude Desktop completely (not just its window) and start it again.\n")
    else:
        err.write(f"Restart {target.label} (or reload its MCP servers) to pick it up.\n")


def _token_warning(err: TextIO, api_token: str | None, path: Path | None) -> int:
    if api_token:
        where = f"in {path}" if path else "in the text above"
        err.write(
            f"Warning: your API token is stored in plain text {where}; anyone who can read it can "
            "send SMS on your account. Leave --api-token out to use browser sign-in (keychain) instead.\n"
        )
    return EXIT_OK


def load_config(path: Path, servers_key: str) -> dict[str, Any] | None:
    """The parsed config file, or None when it does not exist; ``SetupError`` if unusable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SetupError(f"cannot read {path} ({exc.strerror}); check its permissions.") from exc
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise SetupError(
            f"{path} is not valid JSON ({exc}); it was left untouched. Fix it by hand (or move it "
            "away) and run setup again."
        ) from exc
    if not isinstance(data, dict):
        raise SetupError(f"{path} must hold a JSON object at the top level; it was left untouched.")
    servers = data.get(servers_key, {})
    if not isinstance(servers, dict):
        raise SetupError(
            f'"{servers_key}" in {path} is a {type(servers).__name__}, not an object; '
            "it was left untouched. Fix it by hand and run setup again."
        )
    return data


def merge_entry(
    path: Path, servers_key: str, name: str, entry: dict[str, Any], *, private: bool = False
) -> MergeResult:
    """Put ``entry`` at ``data[servers_key][name]`` in the file at ``path``, keeping everything else.

    Writes nothing when the entry is already there.  ``private`` makes the file 0600 (it holds a
    secret); otherwise an existing file keeps its mode.
    """
    data = load_config(path, servers_key)
    created = data is None
    data = data if data is not None else {}
    servers = data.setdefault(servers_key, {})
    if servers.get(name) == entry and not created:
        return MergeResult(path, changed=False, created=False, backup=None)
    servers[name] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = None if created else _backup(path)
        _atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", private=private)
    except OSError as exc:
        raise SetupError(f"cannot write {path} ({exc}); it was left as it was.") from exc
    return MergeResult(path, changed=True, created=created, backup=backup)


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``<name>.<timestamp>.bak`` beside it (never overwriting an older backup)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    shutil.copy2(path, backup)
    return backup


def _atomic_write(path: Path, text: str, *, private: bool) -> None:
    """Replace ``path`` with ``text`` in one step; the temporary file never outlives a failure."""
    try:
        mode = 0o600 if private else stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600  # a new file: only its owner needs to read it
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if sys.platform != "win32":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
