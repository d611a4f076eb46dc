"""``vertex-stdio setup CLIENT [--write]``: print, or safely merge, this machine's server entry.

Merging (``merge``) never loses data: a malformed or unreadable config file, or one whose servers
key is not an object, is refused untouched (exit 1); otherwise the original is copied to a
timestamped backup, only our own entry is added or replaced, and the new file takes the old one's
place atomically (a temporary file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE
from vertex_stdio.core.launcher import command
from vertex_stdio.desktop import clients
from vertex_stdio.desktop.clients import (
    CLIENTS,
    SANDBOX_NAME,
    SERVER_NAME,
    TOKEN_VAR,
    Client,
    claude_code_args,
)
from vertex_stdio.desktop.files import MergeResult, SetupError, atomic_write, backup_name, read_text
from vertex_stdio.desktop.merge import merge_entry, report
from vertex_stdio.vertexsms.apitoken import Stored, TokenRefused

# The VS Code ``inputs`` item for the token, where the token was kept (never in the entry), or None.
Secret = dict[str, Any] | Stored | None
KeepToken = Callable[[str | None], Stored]


def run_setup(
    client: str,
    *,
    write: bool,
    config_path: Path | None,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str] | None = None,
    api_token: str | bool | None = None,
    keep_token: KeepToken | None = None,
    name: str | None = None,
    server_args: Sequence[str] = (),
    command: Sequence[str] | None = None,
    claude: str | None = None,
) -> int:
    """Print ``client``'s entry for this machine on ``out``; with ``write``, put it in place.

    ``env`` is the ``VERTEXSMS_*`` settings the user passed on this command line; they all go into
    the entry.  ``api_token`` (``--api-token``: True, or the value given on the command line; never
    from the environment) never goes into a config file: VS Code gets a password prompt of its own
    (``inputs``), every other client an entry without a token, after ``keep_token`` (given the
    value, or None to read it from a prompt or stdin) checked the token and kept it where the server
    finds it (the keyring; ``VERTEXSMS_ALLOW_FILE_STORE=1`` joins ``env`` when it went to the file
    store).  ``name`` is the entry's name (default ``vertexsms``, or
    ``vertexsms-sandbox`` in the sandbox); ``server_args`` follow the launcher (e.g. a
    subcommand); ``command`` and ``claude`` (the ``claude`` executable) are seams for tests.
    Returns 0 on success, 1 when the entry cannot be put in place safely, 2 for a usage error.
    """
    target = CLIENTS.get(client)
    settings = dict(env or {})
    name = name or (SANDBOX_NAME if settings.get("VERTEXSMS_SANDBOX") == "1" else SERVER_NAME)
    if target is None or not clients.valid_name(name):
        problem = f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}"
        if target is not None:
            problem = f"--name {name!r} must be letters, digits, '-', '_' or '.' (at most 64)"
        err.write(f"vertex-stdio setup: {problem}.\n")
        return EXIT_USAGE
    launcher = [*(command or clients.server_command()), *server_args]
    try:
        secret = _place_token(target, name, settings, api_token, keep_token, err)
    except TokenRefused as exc:
        err.write(f"vertex-stdio setup: not set up: {exc}\n")
        return EXIT_FIXABLE
    if target.name in clients.FORMAT_CLIENTS:  # their own formats: desktop/formats/run.py
        from vertex_stdio.desktop.formats.run import run_file_client

        return run_file_client(target, name, launcher, settings, secret, config_path, write, out, err)
    entry = clients.server_entry(target, launcher, settings)
    if target.name == "claude-code":
        return _claude_code(name, entry, write=write, out=out, err=err, claude=claude, secret=secret)
    if target.name in clients.CLI_CLIENTS:  # Codex, Gemini CLI: their own `mcp add`, or the file
        from vertex_stdio.desktop.cli_client import run_cli_client

        done = run_cli_client(target, name, entry, write=write, config_path=config_path, out=out, err=err)
        return (
            done
            if done != EXIT_OK
            else _token_note(err, target, secret, config_path or _default_path(target))
        )
    path = config_path or _default_path(target)
    return _file_client(target, name, entry, secret, path=path, write=write, out=out, err=err)


def _file_client(
    target: Client,
    name: str,
    entry: dict[str, Any],
    secret: Secret,
    *,
    path: Path,
    write: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print the JSON to add; with ``write``, merge it into ``path`` (refusing a file never read)."""
    problem = clients.path_problem(target, path)
    if problem is not None:
        err.write(f"vertex-stdio setup: {problem[1]}\n")
        if problem[0]:
            return EXIT_FIXABLE
    inputs = [secret] if isinstance(secret, dict) else []
    shown: dict[str, Any] = {"inputs": inputs} if inputs else {}
    out.write(json.dumps(shown | {target.servers_key: {name: entry}}, indent=2, ensure_ascii=False) + "\n")
    if not write:
        err.write(f"Add this to {path} (or run again with --write to merge it in).\n")
        return _token_note(err, target, secret, None)
    try:
        result = merge_entry(
            path,
            target.servers_key,
            name,
            entry,
            inputs=inputs,
            comments=target.name == "vscode",
        )
    except SetupError as exc:
        err.write(f"vertex-stdio setup: {exc}\n")
        return EXIT_FIXABLE
    _report(err, target, name, result)
    return _token_note(err, target, secret, result.path)


def _place_token(
    target: Client,
    name: str,
    env: dict[str, str],
    api_token: str | bool | None,
    keep_token: KeepToken | None,
    err: TextIO,
) -> Secret:
    """VS Code: a password prompt's reference in ``env`` (returns the ``inputs`` item).  Any other
    client: the token kept by ``keep_token`` (``TokenRefused`` when it cannot be), nothing in ``env``
    but the file-store switch when the token went there.  None when no token was asked for."""
    if api_token is None or api_token is False:
        return None
    if target.name == "vscode":
        input_id = f"{name}-token"
        env[TOKEN_VAR] = "${input:" + input_id + "}"
        return {
            "id": input_id,
            "type": "promptString",
            "description": "VertexSMS API token",
            "password": True,
        }
    if keep_token is None:
        raise TokenRefused(
            f"this setup cannot keep a token; run `{command('login --token')}` first, then setup without it."
        )
    if isinstance(api_token, str):
        err.write(
            "Note: a token typed in a command line is visible to other users and stays in your shell "
            "history; next time leave the value out of --api-token and paste it at the prompt.\n"
        )
    stored = keep_token(api_token if isinstance(api_token, str) else None)
    env.pop(TOKEN_VAR, None)
    if stored.file_store:
        env["VERTEXSMS_ALLOW_FILE_STORE"] = "1"
    return stored


def _default_path(target: Client) -> Path:
    path = clients.config_path(target.name)
    if path is None:
        raise ValueError(f"{target.label} has no config file of ours to write")
    return path


def _report(err: TextIO, target: Client, name: str, result: MergeResult) -> None:
    report(err, name, result)
    if not result.changed:
        return
    if target.name == "claude-desktop":
        err.write("Quit Claude Desktop completely (not just its window) and start it again.\n")
    else:
        err.write(f"Restart {target.label} (or reload its MCP servers) to pick it up.\n")


def _token_note(err: TextIO, target: Client, secret: Secret, path: Path | None) -> int:
    if isinstance(secret, dict):
        err.write(
            "VS Code asks for your API token (a password prompt) the first time it starts the "
            "server and keeps it in its secret storage; the token you passed is written nowhere.\n"
        )
    elif secret is not None:
        where = f"{path}" if path else f"{target.label}'s config"
        err.write(
            f"Your API token was checked with VertexSMS and kept in {secret.store} ({secret.note}); "
            f"it is not in {where}: the server reads it from there when VERTEXSMS_API_TOKEN is unset.\n"
        )
    return EXIT_OK


def _claude_code(
    name: str,
    entry: dict[str, Any],
    *,
    write: bool,
    out: TextIO,
    err: TextIO,
    claude: str | None,
    secret: Secret,
) -> int:
    """Print the ``claude mcp add`` command; with ``write``, run it with the real ``claude``."""
    args = claude_code_args(name, entry)
    out.write(shlex.join(["claude", *args]) + "\n")
    if not write:
        err.write("Run this command to add it (or run again with --write to run it for you).\n")
        return _token_note(err, CLIENTS["claude-code"], secret, None)
    exe = claude or shutil.which("claude")
    if exe is None:
        err.write("vertex-stdio setup: the claude command is not on PATH; run the command above yourself.\n")
        return EXIT_FIXABLE
    try:
        done = _run_claude([exe, *args])
        if done.returncode != 0 and "already exists" in done.stdout + done.stderr:
            done = _replace_claude_entry(exe, name, args, err)
    except (OSError, subprocess.TimeoutExpired) as exc:
        err.write(f"vertex-stdio setup: could not run {exe} ({exc}); run the command above yourself.\n")
        return EXIT_FIXABLE
    except SetupError as exc:
        err.write(f"vertex-stdio setup: {exc}\n")
        return EXIT_FIXABLE
    err.write(done.stdout + done.stderr)
    if done.returncode != 0:
        err.write(f"vertex-stdio setup: claude mcp add failed (exit {done.returncode}); see above.\n")
        return EXIT_FIXABLE
    err.write("Start a new Claude Code session (or run /mcp) to pick it up.\n")
    return _token_note(err, CLIENTS["claude-code"], secret, None)


def _replace_claude_entry(
    exe: str, name: str, args: list[str], err: TextIO
) -> subprocess.CompletedProcess[str]:
    """Replace the user-scope entry ``name``, as --write does for the other clients: the previous
    entry is first saved (0600: its env may hold a token) and the user told how to put it back."""
    saved = _save_claude_entry(name)
    removed = _run_claude([exe, "mcp", "remove", name, "--scope", "user"])
    if removed.returncode != 0:
        return removed
    err.write(
        f"Replacing Claude Code's existing user-scope {name!r} entry; the previous entry is saved as "
        f"{saved}. To put it back: claude mcp remove {shlex.quote(name)} --scope user && "
        f'claude mcp add-json --scope user {shlex.quote(name)} "$(cat {shlex.quote(str(saved))})"\n'
    )
    return _run_claude([exe, *args])


def _save_claude_entry(name: str) -> Path:
    """Copy the user-scope entry ``name`` from Claude Code's ``~/.claude.json`` to a backup file.

    ``SetupError`` (nothing removed yet) when the entry cannot be read: it may live in a project
    or local scope, or in a file we do not know, and replacing it unsaved would lose it.
    """
    path = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home()) / ".claude.json"
    try:
        data = json.loads(read_text(path) or "{}")
        entry = data["mcpServers"][name]
    except (ValueError, KeyError, TypeError) as exc:
        raise SetupError(
            f"claude already has an entry named {name!r}, but it is not a user-scope entry in {path}, "
            f"so it was left as it was. Remove it yourself (claude mcp remove {shlex.quote(name)}) "
            "or pick another --name, and run setup again."
        ) from exc
    backup = backup_name(path.with_name(f"{path.name}.{name}"))
    try:
        atomic_write(backup, json.dumps(entry, indent=2, ensure_ascii=False) + "\n", private=True)
    except OSError as exc:
        raise SetupError(f"cannot save the previous {name!r} entry ({exc}); nothing was changed.") from exc
    return backup


def _run_claude(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``claude`` with no stdin; its argv never holds a secret (a token is kept, never in the entry)."""
    return subprocess.run(  # noqa: S603 - claude's own arguments, no shell, no secret
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
