"""Gemini CLI's user settings (``~/.gemini/settings.json``, ``mcpServers``) and ``gemini mcp add``.

The entry is the documented stdio server (google-gemini/gemini-cli ``docs/tools/mcp-server.md``):
``command``, ``args``, ``env``.  Gemini reads the file as JSON with comments (no trailing
commas), so the merge keeps comments (``jsonc``).  Measured with the real CLI (0.61.0):

* ``gemini mcp add`` defaults to the *project* scope, so we always pass ``--scope user``;
* options after the name and command are still options (an argument ``--name`` would be eaten),
  so the server's arguments go after ``--``;
* ``-e K=V`` keeps only the text between the first and second ``=`` of the value, so an entry
  with such a value cannot be written by the CLI (:func:`gemini_args` returns None): we print
  the JSON and ``--write`` merges the file instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vertex_stdio.desktop.files import MergeResult
from vertex_stdio.desktop.merge import load_config, merge_entry

SERVERS_KEY = "mcpServers"


def gemini_args(name: str, entry: Mapping[str, Any]) -> list[str] | None:
    """``gemini mcp add`` arguments for ``entry`` in the user scope; None if the CLI would garble it."""
    env = entry.get("env", {})
    if any("=" in str(value) for value in env.values()):
        return None
    parts = ["mcp", "add", "--scope", "user", name, entry["command"]]
    for key, value in env.items():
        parts += ["-e", f"{key}={value}"]
    return [*parts, "--", *entry["args"]] if entry["args"] else parts


def snippet(name: str, entry: Mapping[str, Any]) -> str:
    """The JSON to add to ``settings.json`` by hand."""
    return json.dumps({SERVERS_KEY: {name: dict(entry)}}, indent=2, ensure_ascii=False) + "\n"


def merge(path: Path, name: str, entry: Mapping[str, Any]) -> MergeResult:
    """Merge ``entry`` into ``settings.json`` as ``setup`` does for every JSON client (comments kept)."""
    return merge_entry(path, SERVERS_KEY, name, dict(entry), comments=True)


def has_entry(path: Path, name: str, entry: Mapping[str, Any]) -> bool:
    """True when ``path`` already holds exactly this entry under ``name``."""
    data = load_config(path, SERVERS_KEY, comments=True)
    return data is not None and data.get(SERVERS_KEY, {}).get(name) == dict(entry)
