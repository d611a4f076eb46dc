"""Lines off stdin: whole lines split from chunks, each bounded; plain Python, no SDK.

Shared by the wire (``stdio.py``) and the lean front (``lean.py``), which answers the first
requests before the SDK is imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

RequestId = str | int
MAX_LINE_BYTES = 4 * 1024 * 1024
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_ID_SCAN = 64 * 1024  # how much of an oversized line is searched for its id


@dataclass(frozen=True)
class Rejected:
    """A stdin line that is not passed on, and what the JSON-RPC error answering it says."""

    code: int
    message: str
    id: RequestId | None = None


class LineSplitter:
    """Bytes in, whole lines out; a line longer than ``limit`` becomes one ``Rejected``. Pure."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside an oversized line: drop bytes up to its newline

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        out: list[bytes | Rejected] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            if not self._skipping:
                self._buffer += data[start:end]
                if len(self._buffer) > self._limit:
                    out.append(_oversized(self._limit, leading_id(bytes(self._buffer[:_ID_SCAN]))))
                    self._buffer.clear()
                    self._skipping = True
            if newline < 0:
                return out
            if not self._skipping:
                out.append(bytes(self._buffer))
            self._buffer.clear()
            self._skipping = False
            start = newline + 1

    def end(self) -> list[bytes | Rejected]:
        """At end of input: the last line, if it had no newline."""
        line, skipped = bytes(self._buffer), self._skipping
        self._buffer.clear()
        return [line] if line and not skipped else []


def _oversized(limit: int, id_: RequestId | None) -> Rejected:
    return Rejected(
        INVALID_REQUEST,
        f"Invalid Request: the message is longer than {limit // 1_048_576} MiB and was discarded.",
        id_,
    )


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_ID_VALUE = re.compile(rb'\s*:\s*(?:("(?:[^"\\]|\\.)*")|(-?(?:0|[1-9]\d*))(?=\s*[,}]))')


def leading_id(prefix: bytes) -> RequestId | None:
    """The top-level ``"id"`` of the JSON object that ``prefix`` starts, if it is there whole. Pure."""
    if not prefix.lstrip().startswith(b"{"):
        return None
    depth, i = 0, 0
    while i < len(prefix):
        char = prefix[i : i + 1]
        if char == b'"':
            string = _STRING.match(prefix, i)
            if string is None:
                return None  # the prefix ends inside a string
            i = string.end()
            value = _ID_VALUE.match(prefix, i) if depth == 1 and string[0] == b'"id"' else None
            if value is not None:
                return writable(json.loads(value[1]) if value[1] else int(value[2]))
            continue
        depth += char in (b"{", b"[")
        depth -= char in (b"}", b"]")
        i += 1
    return None


def writable(id_: RequestId) -> RequestId | None:
    """``id_``, or None when an answer cannot carry it: a string with a lone surrogate (from a
    ``\\ud800`` escape), which is not Unicode and cannot be written as UTF-8. Pure."""
    return id_ if not isinstance(id_, str) or unicode(id_) else None


def unicode(value: Any) -> bool:
    """Whether every string in the JSON value ``value`` (keys too) is Unicode: no lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except RecursionError:  # too deep to tell here: refused for its depth wherever it is read
        return True
    return True


def json_object(line: bytes) -> dict[str, Any] | None:
    """The line's JSON object; None when it is not one, or holds what the SDK's parser refuses
    (not UTF-8, a key twice, NaN or Infinity, an integer past 4,300 digits).  The lean front and
    the lean call path read a line only through this, so neither takes a line the SDK would not."""
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").strip()
        found = json.loads(text, object_pairs_hook=_unique, parse_constant=_refuse)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return found if isinstance(found, dict) else None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice")
    return found


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")
