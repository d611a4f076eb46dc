"""JSON with comments (JSONC, as VS Code reads ``mcp.json``): parse it, and set one member in place.

No dependency: comments and trailing commas are blanked out with spaces (so every offset in the
blanked text is the same offset in the original), the blanked text is parsed with ``json``, and
an edit splices new text into the *original* at those offsets, so the user's comments, spacing
and other members stay exactly as they were.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


def _blank_comments(text: str) -> str:
    """``text`` with every ``//`` and ``/* */`` comment outside strings replaced by spaces."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated /* comment at offset {i}")
            out[i : end + 2] = ["\n" if c == "\n" else " " for c in text[i : end + 2]]
            i = end + 1
        i += 1
    return "".join(out)


def blank(text: str) -> str:
    """``text`` as strict JSON of the same length: comments and trailing commas become spaces."""
    out = list(_blank_comments(text))
    i, n = 0, len(out)
    while i < n:
        if out[i] == '"':
            i += 1
            while i < n and out[i] != '"':
                i += 2 if out[i] == "\\" else 1
        elif out[i] == ",":
            j = i + 1
            while j < n and out[j] in _SPACE:
                j += 1
            if j < n and out[j] in "}]":
                out[i] = " "
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSONC (``ValueError`` when it is not even that)."""
    return json.loads(blank(text))


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _members(clean: str, start: int) -> tuple[dict[str, tuple[int, int, int]], int]:
    """The object opening at ``start``: ``{key: (key_start, value_start, value_end)}`` and its ``}``."""
    found: dict[str, tuple[int, int, int]] = {}
    i = _skip(clean, start + 1)
    while clean[i] != "}":
        key, after_key = _DECODER.raw_decode(clean, i)
        value_start = _skip(clean, _skip(clean, after_key) + 1)  # past the ':'
        _, value_end = _DECODER.raw_decode(clean, value_start)
        found[key] = (i, value_start, value_end)
        i = _skip(clean, value_end)
        i = _skip(clean, i + 1) if clean[i] == "," else i
    return found, i


def _indent_at(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _dump(value: Any, indent: str) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)


def set_member(text: str, path: tuple[str, ...], value: Any) -> str:
    """``text`` with ``obj[path[0]]...[path[-1]] = value``, everything else untouched.

    Missing objects along ``path`` are created.  An existing value is replaced in place; a new
    member goes first in its object (after the ``{``, so no comma ever dangles).  The top level
    and every object on the way must be JSON objects (``ValueError`` otherwise).
    """
    clean = blank(text)
    at = _skip(clean, 0)
    if at >= len(clean) or clean[at] != "{":
        raise ValueError("the top level is not an object")
    for depth, key in enumerate(path):
        members, close = _members(clean, at)
        if key in members:
            key_start, value_start, value_end = members[key]
            if depth == len(path) - 1:
                new = _dump(value, _indent_at(text, key_start))
                return text[:value_start] + new + text[value_end:]
            if clean[value_start] != "{":
                raise ValueError(f'"{key}" is not an object')
            at = value_start
            continue
        rest: Any = value
        for inner in reversed(path[depth + 1 :]):
            rest = {inner: rest}
        first = min((m[0] for m in members.values()), default=None)
        indent = _indent_at(text, first) if first is not None else _indent_at(text, at) + "  "
        comma = "," if members else "\n" + _indent_at(text, close)
        new = f"\n{indent}{json.dumps(key)}: {_dump(rest, indent)}{comma}"
        return text[: at + 1] + new + text[at + 1 :]
    raise ValueError("an empty path")


def _items(clean: str, start: int) -> list[tuple[Any, int, int]]:
    """The array opening at ``start``: each element's value, start and end offsets."""
    found: list[tuple[Any, int, int]] = []
    i = _skip(clean, start + 1)
    while clean[i] != "]":
        value, end = _DECODER.raw_decode(clean, i)
        found.append((value, i, end))
        i = _skip(clean, end)
        i = _skip(clean, i + 1) if clean[i] == "," else i
    return found


def put_item(text: str, key: str, item: dict[str, Any]) -> str:
    """``text`` with ``item`` in the top-level array ``key``, in place of the one with its ``id``.

    A new item goes first (after the ``[``); a missing array is created.  Other items and their
    comments stay as they were.
    """
    clean = blank(text)
    members, _ = _members(clean, _skip(clean, 0))
    if key not in members:
        return set_member(text, (key,), [item])
    _, at, _ = members[key]
    if clean[at] != "[":
        raise ValueError(f'"{key}" is not an array')
    items = _items(clean, at)
    for value, start, end in items:
        if isinstance(value, dict) and value.get("id") == item["id"]:
            return text[:start] + _dump(item, _indent_at(text, start)) + text[end:]
    indent = _indent_at(text, items[0][1]) if items else _indent_at(text, at) + "  "
    tail = "," if items else "\n" + _indent_at(text, at)
    return f"{text[: at + 1]}\n{indent}{_dump(item, indent)}{tail}{text[at + 1 :]}"
