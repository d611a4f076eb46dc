"""Codex's ``config.toml`` (shared by the Codex CLI, its IDE extension and the ChatGPT desktop app).

The entry is Codex's documented stdio server table (https://developers.openai.com/codex/mcp):
``[mcp_servers.NAME]`` with ``command``, ``args`` and an ``[mcp_servers.NAME.env]`` table.  Two
ways to put it in place, both tested against the real Codex CLI:

* ``codex mcp add NAME --env K=V -- CMD ARGS`` (the command ``setup codex`` prints), and
* a round-trip merge with ``tomlkit``: every comment, every other table and every other server stay
  byte for byte; only our table is added or replaced.

``codex mcp add`` (0.171.0, measured) rewrites the whole ``[mcp_servers]`` section: comments
inside other servers' tables are dropped and inline tables are re-spelled.  So ``--write`` runs
it only when that section holds no comment (:func:`cli_would_lose_comments`); otherwise the merge.
``tomlkit`` is imported only here, inside the functions that need it (``setup`` only).
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vertex_stdio.desktop.files import MergeResult, SetupError, atomic_write, backup_file, read_text

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

SERVERS_KEY = "mcp_servers"
_LAUNCH_KEYS = ("command", "args", "env", "env_vars")
# Codex 0.171 starts a stdio server with only HOME, LANG, PATH, SHELL, TERM, PWD and the CA-bundle
# variables of its own environment (measured: a server that dumped its environment, started by
# `codex exec`). Outside macOS and Windows ours also needs these, when the session has them: the
# keyring reaches the Secret Service over D-Bus, browser sign-in needs a display, and our state
# and config folders follow the XDG variables (the same ones `vertex-stdio login` used).
FORWARDED = (
    *("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY", "BROWSER"),
    *("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"),
)
# TOML strings, so that a '#' inside one is not taken for a comment.
_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'')


def with_forwarded(
    entry: Mapping[str, Any], environ: Mapping[str, str] = os.environ, platform: str = sys.platform
) -> dict[str, Any]:
    """``entry`` plus ``env_vars``: the ``FORWARDED`` variables set in this session (none on macOS
    and Windows), which Codex then passes on to the server from its own environment."""
    names = [] if platform in ("darwin", "win32") else [n for n in FORWARDED if environ.get(n)]
    return {**entry, "env_vars": names} if names else dict(entry)


def codex_args(name: str, entry: Mapping[str, Any]) -> list[str] | None:
    """``codex mcp add`` arguments for ``entry`` (``--env`` per variable; the command after ``--``);
    None when it has ``env_vars``, which ``codex mcp add`` has no option for."""
    if entry.get("env_vars"):
        return None
    parts = ["mcp", "add", name]
    for key, value in entry.get("env", {}).items():
        parts += ["--env", f"{key}={value}"]
    return [*parts, "--", entry["command"], *entry["args"]]


def snippet(name: str, entry: Mapping[str, Any]) -> str:
    """The TOML to paste into ``config.toml`` by hand: exactly what :func:`merge` would add."""
    import tomlkit

    doc = tomlkit.document()
    doc[SERVERS_KEY] = tomlkit.table(is_super_table=True)
    doc[SERVERS_KEY][name] = _table(entry)
    return tomlkit.dumps(doc)


def _table(entry: Mapping[str, Any], *, inline: bool = False) -> Any:
    """Our server as a TOML table; ``env`` as its own ``[mcp_servers.NAME.env]`` table, as Codex
    writes it (both inline tables when they must sit in one)."""
    import tomlkit

    table = tomlkit.inline_table() if inline else tomlkit.table()
    table["command"] = entry["command"]
    table["args"] = list(entry["args"])
    if entry.get("env"):
        env = tomlkit.inline_table() if inline else tomlkit.table()
        for key, value in entry["env"].items():
            env[key] = value
        table["env"] = env
    if entry.get("env_vars"):
        table["env_vars"] = list(entry["env_vars"])
    return table


def load(path: Path) -> TOMLDocument | None:
    """The parsed file (comments and layout kept), None when it does not exist; else ``SetupError``."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = read_text(path)
    if text is None:
        return None
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise SetupError(
            f"{path} is not valid TOML ({exc}); it was left untouched. Fix it by hand (or move it "
            "away) and run setup again."
        ) from exc
    servers = doc.get(SERVERS_KEY)
    if servers is not None and not isinstance(servers, MutableMapping):
        raise SetupError(
            f'"{SERVERS_KEY}" in {path} is a {type(servers).__name__}, not a table; it was left '
            "untouched. Fix it by hand and run setup again."
        )
    return doc


def merge(path: Path, name: str, entry: Mapping[str, Any]) -> MergeResult:
    """Put ``entry`` at ``[mcp_servers.NAME]`` in ``path``, keeping everything else as it was.

    A new entry is appended to the old text, byte for byte; a replaced one is edited in place
    with tomlkit (the user's own keys in it, such as timeouts, kept).  The result is parsed back
    and must differ from the old file in our entry only, else the file is refused untouched.
    Writes nothing when the same entry is there already; otherwise backs the file up and
    replaces it atomically (a new file is 0600; an existing one keeps its mode).
    """
    doc = load(path)
    if doc is not None and has_entry(path, name, entry):
        return MergeResult(path, changed=False, created=False, backup=None)
    old = read_text(path) if doc is not None else None
    if doc is None or old is None or not old.strip():
        text = (old or "") + snippet(name, entry)
    else:
        servers = doc.get(SERVERS_KEY)
        appended = None if servers is not None and name in servers else _appended(old, name, entry)
        found = appended if _only_ours(old, appended, name, entry) else None
        if found is None:  # appending would not do (ours is there, or an inline table): edit it
            edited = _edited(doc, name, entry)
            found = edited if _only_ours(old, edited, name, entry) else None
        if found is None:
            raise SetupError(
                f"{path} could not be merged without changing more than our {name} entry; it was left "
                "untouched. Add the TOML printed above to it by hand."
            )
        text = found
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = None if doc is None else backup_file(path)
        atomic_write(path, text, private=False)
    except OSError as exc:
        raise SetupError(f"cannot write {path} ({exc}); it was left as it was.") from exc
    return MergeResult(path, changed=True, created=doc is None, backup=backup)


def _appended(old: str, name: str, entry: Mapping[str, Any]) -> str:
    """The old text untouched, then our table (in the file's own line endings)."""
    newline = "\r\n" if "\r\n" in old else "\n"
    body = old if old.endswith(("\n", "\r")) else old + newline
    return body + newline + snippet(name, entry).replace("\n", newline)


def _edited(doc: TOMLDocument, name: str, entry: Mapping[str, Any]) -> str | None:
    """``doc`` with our entry set through tomlkit (inline where the file has it inline)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import InlineTable

    try:
        servers = doc.get(SERVERS_KEY)
        if servers is None:
            servers = doc[SERVERS_KEY] = tomlkit.table(is_super_table=True)
        current = servers.get(name)
        new = _table(entry, inline=isinstance(servers, InlineTable) or isinstance(current, InlineTable))
        if isinstance(current, MutableMapping):  # ours already: keep the user's own keys
            for key in _LAUNCH_KEYS:
                current.pop(key, None)
                if key in new:
                    current[key] = new[key]
        else:
            servers[name] = new
        return tomlkit.dumps(doc)
    except (TOMLKitError, ValueError, TypeError):
        return None


def _only_ours(old: str, new: str | None, name: str, entry: Mapping[str, Any]) -> bool:
    """True when ``new`` parses, holds ``entry`` under ``name`` and differs from ``old`` in nothing else."""
    if new is None:
        return False
    try:
        before, after = tomllib.loads(old), tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        return False
    theirs = before.get(SERVERS_KEY, {}).pop(name, None) or {}
    ours = after.get(SERVERS_KEY, {}).pop(name, None) or {}
    for data in (before, after):
        if data.get(SERVERS_KEY) == {}:
            del data[SERVERS_KEY]
    kept = {k: v for k, v in theirs.items() if k not in _LAUNCH_KEYS}
    own = {k: v for k, v in ours.items() if k not in _LAUNCH_KEYS}
    return before == after and own == kept and _launch(ours) == _launch(entry)


def cli_would_lose_comments(path: Path) -> bool:
    """True when ``codex mcp add`` would drop comments: some are inside ``[mcp_servers]``.

    Counted as the comment marks the file loses when that section is taken out.  ``SetupError``
    for a file Codex could not read either (it refuses one it cannot parse, untouched).
    """
    import tomlkit

    doc = load(path)
    if doc is None or SERVERS_KEY not in doc:
        return False
    whole = _comment_marks(tomlkit.dumps(doc))
    del doc[SERVERS_KEY]
    return _comment_marks(tomlkit.dumps(doc)) != whole


def _comment_marks(text: str) -> int:
    return _STRINGS.sub("", text).count("#")


def _launch(table: Any) -> tuple[Any, list[Any], dict[Any, Any], list[Any]]:
    """What starts the server (command, args, env, env_vars), as Codex reads it: missing is empty."""
    unwrap = getattr(table, "unwrap", None)
    plain = unwrap() if unwrap is not None else table
    if not isinstance(plain, Mapping):
        return None, [], {}, []
    return (
        plain.get("command"),
        list(plain.get("args") or []),
        dict(plain.get("env") or {}),
        list(plain.get("env_vars") or []),
    )


def has_entry(path: Path, name: str, entry: Mapping[str, Any]) -> bool:
    """True when ``path`` already holds exactly this entry under ``name``."""
    doc = load(path)
    servers = doc.get(SERVERS_KEY) if doc is not None else None
    current = servers.get(name) if servers is not None else None
    return current is not None and _launch(current) == _launch(entry)
