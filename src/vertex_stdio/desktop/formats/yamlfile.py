"""Goose's and Continue's YAML config: merge our entry, keeping the user's comments and layout.

``ruamel.yaml`` round-trip mode reads comments, key order, quoting and flow style into the loaded
tree and writes them back, so only our entry is new text.  Imported only by ``setup`` for these
two clients.  The safety rules are ``setup``'s: a file that is not valid YAML, or whose servers key
has the wrong shape, is refused untouched; otherwise the original is backed up beside itself and
replaced atomically; nothing is written when our entry is already there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from vertex_stdio.desktop.files import SetupError, atomic_write, backup_file, read_text

# A new Continue file (config.yaml or a block in ~/.continue/mcpServers/) needs these three keys
# before Continue reads its blocks (docs.continue.dev, "config.yaml Reference").
CONTINUE_HEADER = {"name": "VertexSMS", "version": "0.0.1", "schema": "v1"}
# (mapping, sequence, offset) indents people and tools write: serde_yaml (goose) and ruamel's
# default put a list's "-" under its key; Continue's docs indent it by two; some files use four.
_STYLES = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4))


@dataclass(frozen=True)
class YamlMerge:
    """What ``merge`` did: the file, whether it changed or was created, and the backup."""

    path: Path
    changed: bool
    created: bool
    backup: Path | None


def _yaml(style: tuple[int, int, int] = _STYLES[0]) -> YAML:
    yaml = YAML()  # round-trip: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long path onto a second line
    yaml.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return yaml


def dump(data: Any, *, like: str = "") -> str:
    """``data`` as YAML text, indented as ``like`` (the file's previous text) is.

    ruamel keeps comments and order but writes one indentation; of the usual ones, the one that
    leaves the most of ``like``'s lines exactly as they were is the file's own.
    """
    old = set(like.splitlines())
    best = ""
    for style in _STYLES:
        out = io.StringIO()
        _yaml(style).dump(data, out)
        text = out.getvalue()
        if not best or len(old & set(text.splitlines())) > len(old & set(best.splitlines())):
            best = text
    return best


def snippet(client: str, name: str, entry: dict[str, Any]) -> str:
    """The YAML to paste by hand: Goose's ``extensions`` member, or Continue's list item."""
    if client == "goose":
        return dump({"extensions": {name: entry}})
    return dump({"mcpServers": [entry]}, like=f"  - name: {name}\n")  # indented, as in Continue's docs


def _load(path: Path, text: str) -> CommentedMap:
    try:
        data = _yaml().load(text) if text.strip() else CommentedMap()
    except YAMLError as exc:
        raise SetupError(
            f"{path} is not valid YAML ({_first_line(exc)}); it was left untouched. Fix it by hand "
            "(or move it away) and run setup again."
        ) from exc
    if data is None:
        return CommentedMap()  # only comments: keep them, add our key below
    if not isinstance(data, CommentedMap):
        raise SetupError(f"{path} must hold a YAML mapping at the top level; it was left untouched.")
    return data


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _put(path: Path, data: CommentedMap, client: str, name: str, entry: dict[str, Any]) -> bool:
    """Put ``entry`` in ``data``; False when it was already there as is."""
    key = "extensions" if client == "goose" else "mcpServers"
    servers = data.get(key)
    if servers is None:
        servers = data[key] = CommentedMap() if client == "goose" else CommentedSeq()
    if client == "goose":
        if not isinstance(servers, dict):
            raise _shape(path, key, servers, "a mapping")
        if servers.get(name) == entry:
            return False
        servers[name] = entry
        return True
    if not isinstance(servers, list):
        raise _shape(path, key, servers, "a list")
    for index, item in enumerate(servers):
        if isinstance(item, dict) and item.get("name") == name:
            if item == entry:
                return False
            servers[index] = entry
            return True
    servers.append(entry)
    return True


def _shape(path: Path, key: str, value: object, wanted: str) -> SetupError:
    return SetupError(
        f'"{key}" in {path} is a {type(value).__name__}, not {wanted}; it was left untouched. '
        "Fix it by hand and run setup again."
    )


def merge(path: Path, client: str, name: str, entry: dict[str, Any]) -> YamlMerge:
    """Put ``entry`` (named ``name``) into ``client``'s YAML file at ``path``, keeping the rest.

    ``SetupError`` when the file cannot be merged safely; then it is left exactly as it was.
    """
    old = read_text(path)
    created = old is None
    text = old or ""
    data = _load(path, text)
    if created and client == "continue":
        data.update(CONTINUE_HEADER)
    if not _put(path, data, client, name, entry) and not created:
        return YamlMerge(path, changed=False, created=False, backup=None)
    new_text = dump(data, like=text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = None if created else backup_file(path)
        atomic_write(path, new_text, private=False)
    except OSError as exc:
        raise SetupError(f"cannot write {path} ({exc}); it was left as it was.") from exc
    return YamlMerge(path, changed=True, created=created, backup=backup)
