"""The one redaction: secrets, pieces of secrets and token-shaped runs cut from text.

Every place where text from outside (an upstream's error, a log record, a quoted answer)
reaches a person or a model calls ``redact`` first and cuts the text to length after
(``clip`` does both in that order): a token cut in half by a length limit no longer matches
itself, so redacting after the cut leaks the piece that survived.

What is cut:

* every registered secret (``register_secret``) and every secret passed in ``also``, whole;
* every run of text that shares ``PIECE`` (8) or more consecutive characters with one of
  them, so a token split across JSON fields, clipped by the upstream or wrapped over lines
  leaves no 8-character piece (windows that read as ordinary text are not pieces: see
  ``_pieces_of``);
* token shapes nobody registered: a JWT (``eyJ…`` base64url, with or without its other
  parts), three dot-joined base64url parts of 16+ characters, and any base64url run of 32+
  characters next to a word like token, bearer, authorization, secret or key (on the same line,
  at most 20 characters away: ``Client id: <id>`` a line above ``Access token:`` is kept).

Pure: no I/O; the registry is process-wide and thread-safe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

REDACTED = "[redacted]"
PIECE = 8  # the shortest piece of a secret that is cut out on its own
MAX_SECRETS = 256  # tokens rotate; the oldest are forgotten first beyond this

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)*")
_DOTTED = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]*")
_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
_WORDS = r"token|bearer|authori[sz]ation|secret|api[ _-]?key|password|credential"
# "next to": the word and the run on one line with at most 20 characters between them
_WORD_BEFORE = re.compile(rf"(?i)(?:{_WORDS})[^\n]{{0,20}}\Z")
_WORD_AFTER = re.compile(rf"(?i)[^\n]{{0,20}}(?:{_WORDS})")
_LONG_WORD = re.compile(rf"\S{{{PIECE},}}")
_ORDINARY = re.compile(r"[a-z._~ -]+|[0-9]+")
_NEAR = 40  # the longest word plus its 20 characters of distance

_lock = threading.Lock()
_registered: dict[str, None] = {}  # insertion-ordered, so the oldest can be forgotten
_pieces: frozenset[str] = frozenset()  # replaced whole on registration: readers take it as is
_whole: re.Pattern[str] | None = None  # every registered secret, longest first


def register_secret(value: str | None) -> None:
    """Cut ``value`` (and any 8-character piece of it) from all later redacted text.

    Values shorter than ``PIECE`` are ignored: they would cut ordinary words.
    """
    if not value or len(value) < PIECE:
        return
    global _pieces, _whole
    with _lock:
        if value in _registered:
            return
        _registered[value] = None
        if len(_registered) <= MAX_SECRETS:
            _pieces = _pieces | _pieces_of(value)
        else:
            del _registered[next(iter(_registered))]
            _pieces = frozenset().union(*map(_pieces_of, _registered))
        _whole = _alternation(_registered)


def redact(text: str, also: Iterable[str | None] = ()) -> str:
    """``text`` with registered secrets, the secrets in ``also``, their pieces and token shapes cut.

    A secret in ``also`` is cut whole whatever its length (it is known to have been sent);
    pieces are cut for secrets of ``PIECE`` characters or more.  The marker put in is never
    searched again, so a secret that is a part of it cannot mangle it.
    """
    extra = {s for s in also if s}
    with _lock:
        pieces, whole = _pieces, _whole
    if extra:
        pieces = pieces.union(*map(_pieces_of, extra))
    spans = _piece_spans(text, pieces)
    for pattern in (whole, _alternation(extra)):
        if pattern is not None:
            spans += [m.span() for m in pattern.finditer(text)]
    spans += _shape_spans(text)
    return _cut(text, spans)


def clip(text: str, limit: int, also: Iterable[str | None] = ()) -> str:
    """``text`` redacted, its whitespace runs made single spaces, then cut to ``limit`` with ``…``."""
    text = re.sub(r"\s+", " ", redact(text, also)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _alternation(secrets: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(secrets, key=len, reverse=True)  # the longest wins where one holds another
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


def _pieces_of(secret: str) -> set[str]:
    """The secret's ``PIECE``-long windows, but those that read as ordinary text.

    A window of lowercase letters and dashes (``vertex-s``) or of digits alone would cut words
    and numbers from every log line; in a random token such windows are rare and the windows
    overlapping them (with a capital or a digit) still cut the run around them.
    """
    if len(secret) < PIECE:
        return set()
    windows = (secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1))
    return {w for w in windows if not _ORDINARY.fullmatch(w)}


def _piece_spans(text: str, pieces: frozenset[str]) -> list[tuple[int, int]]:
    """Where ``text`` holds any of ``pieces`` (each ``PIECE`` long), as (start, end) spans."""
    if not pieces:
        return []
    spans = []
    for run in _LONG_WORD.finditer(text):  # a piece holds no whitespace: skip the short words
        start, end = run.span()
        spans += [(i, i + PIECE) for i in range(start, end - PIECE + 1) if text[i : i + PIECE] in pieces]
    return spans


def _shape_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _JWT.finditer(text)]
    spans += [m.span() for m in _DOTTED.finditer(text)]
    for run in _RUN.finditer(text):
        start, end = run.span()
        if _WORD_BEFORE.search(text[max(0, start - _NEAR) : start]) or _WORD_AFTER.match(
            text, end, end + _NEAR
        ):
            spans.append((start, end))
    return spans


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each union of overlapping or touching spans replaced by one marker."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    position = 0
    for start, end in merged:
        out += [text[position:start], REDACTED]
        position = end
    out.append(text[position:])
    return "".join(out)
