"""One server entry merged into a client's JSON (or JSONC) config file, keeping everything else,
and what the merge did, said the same way for every client ``setup`` writes a file for.

``SetupError`` (nothing written) for a file that cannot be merged safely: not valid JSON, not an
object, its servers key or ``inputs`` of another type, or a write that failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.desktop import jsonc
from vertex_stdio.desktop.files import MergeResult, SetupError, atomic_write, backup_file, read_text


def report(err: TextIO, name: str, result: MergeResult) -> None:
    """Say on ``err`` what the merge did: nothing, or the file created or updated (and its backup)."""
    if not result.changed:
        err.write(f"{result.path} already has this {name} entry; nothing changed.\n")
        return
    verb = "Created" if result.created else "Updated"
    err.write(f"{verb} {result.path} with the {name} entry.\n")
    if result.backup:
        err.write(f"The previous file is saved as {result.backup}.\n")


def load_config(path: Path, servers_key: str, *, comments: bool = False) -> dict[str, Any] | None:
    """The parsed config file, or None when it does not exist; ``SetupError`` if unusable.

    ``comments``: the client reads JSONC (VS Code), so comments and trailing commas are fine.
    """
    text = read_text(path)
    if text is None:
        return None
    try:
        data = (jsonc.loads(text) if comments else json.loads(text)) if text.strip() else {}
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
    path: Path,
    servers_key: str,
    name: str,
    entry: dict[str, Any],
    *,
    inputs: Sequence[dict[str, Any]] = (),
    private: bool = False,
    comments: bool = False,
) -> MergeResult:
    """Put ``entry`` at ``data[servers_key][name]`` in the file at ``path``, keeping everything else.

    ``inputs`` (VS Code prompts) replace the items with the same ``id`` in ``data["inputs"]``, or
    are added after the others.  Writes nothing when all is already there.  ``private`` makes the
    file 0600 (it holds a secret); otherwise an existing file keeps its mode.  ``comments``: the
    file may be JSONC (VS Code); one that has comments or trailing commas is edited in place
    (``jsonc.set_member``), keeping them, instead of being rewritten.
    """
    data = load_config(path, servers_key, comments=comments)
    created = data is None
    data = data if data is not None else {}
    before = json.dumps(data, sort_keys=True)
    data.setdefault(servers_key, {})[name] = entry
    if inputs:
        data["inputs"] = _merged_inputs(path, data.get("inputs", []), inputs)
    if json.dumps(data, sort_keys=True) == before and not created:
        return MergeResult(path, changed=False, created=False, backup=None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = None if created else backup_file(path)
        atomic_write(
            path, _new_text(path, servers_key, name, data, comments=comments, inputs=inputs), private=private
        )
    except OSError as exc:
        raise SetupError(f"cannot write {path} ({exc}); it was left as it was.") from exc
    return MergeResult(path, changed=True, created=created, backup=backup)


def _new_text(
    path: Path,
    servers_key: str,
    name: str,
    data: dict[str, Any],
    *,
    comments: bool,
    inputs: Sequence[dict[str, Any]],
) -> str:
    """The file's new text: ``data`` as JSON, or for a JSONC file the old text with our members set."""
    old = read_text(path) if comments else None
    if old is None or not old.strip() or jsonc.blank(old) == old:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    text = jsonc.set_member(old, (servers_key, name), data[servers_key][name])
    for item in inputs:
        text = jsonc.put_item(text, "inputs", item)
    return text


def _merged_inputs(path: Path, existing: object, ours: Sequence[dict[str, Any]]) -> list[Any]:
    if not isinstance(existing, list):
        raise SetupError(f'"inputs" in {path} is not a list; it was left untouched. Fix it by hand.')
    by_id = {item["id"]: item for item in ours}
    merged = [by_id.pop(item["id"]) if _input_id(item) in by_id else item for item in existing]
    return [*merged, *by_id.values()]


def _input_id(item: object) -> object:
    return item.get("id") if isinstance(item, dict) else None
