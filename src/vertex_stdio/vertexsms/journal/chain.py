"""The journal's audit chain: every record carries a SHA-256 over its predecessor's chain and
its own fields, so a record changed, removed or inserted by hand shows.

    chain(n) = SHA-256(chain(n - 1) + canonical fields of record n)

A record's fields change once more when its call finishes, so ``rechain`` recomputes the chain
from that record to the newest, in the caller's write transaction.  The ``meta`` table keeps the
``anchor`` (the chain of the last record pruned: where the first kept record's chain starts) and
the ``head`` (the newest record's id and chain: records removed from the end show against it).
Schema version 1 (``PRAGMA user_version``) adds the column and the table; an older journal is
brought up to it on open, its existing records chained in order.

The chain proves the journal was not edited by hand since; it is not a signature: someone who
rewrites every later chain with this very code is not detected (nothing secret goes into it).

``link``, ``relink`` and ``check`` are pure, so every store (SQLite here, PostgreSQL, memory)
chains and verifies its records by the same rule; the SQL below is SQLite's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vertex_stdio.vertexsms.journal.records import COLUMNS

if TYPE_CHECKING:  # loaded with the SQLite store, not by every server that may never send
    import sqlite3

SCHEMA_VERSION = 1
GENESIS = "0" * 64
# The fields a record's chain covers: all but the chain itself, in ``Record``'s order.
FIELDS = ", ".join(COLUMNS)
# The fields of the first chained release; a field added since counts only when it holds
# something, so a record chained before it existed keeps its chain.
FIRST_FIELDS = 17


def link(previous: str, row: Sequence[Any]) -> str:
    """The chain of a record with fields ``row`` (in ``FIELDS`` order) after ``previous``."""
    values = list(row)
    while len(values) > FIRST_FIELDS and values[-1] in (None, ""):
        values.pop()
    canonical = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()


def relink(previous: str, rows: Sequence[Sequence[Any]]) -> list[str]:
    """The chains of ``rows`` (by id, each in ``FIELDS`` order), the first after ``previous``."""
    chains: list[str] = []
    for row in rows:
        previous = link(previous, row)
        chains.append(previous)
    return chains


def migrate(db: sqlite3.Connection) -> None:
    """Bring a journal below ``SCHEMA_VERSION`` up to it (in the caller's write transaction)."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    have = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    if "chain" not in have:
        db.execute("ALTER TABLE calls ADD COLUMN chain TEXT")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    rechain(db, 0)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def rechain(db: sqlite3.Connection, from_id: int) -> None:
    """Recompute the chain of every record from ``from_id`` on, and the head."""
    before = db.execute(
        "SELECT chain FROM calls WHERE id < ? ORDER BY id DESC LIMIT 1", (from_id,)
    ).fetchone()
    previous = before[0] if before and before[0] else (_meta(db, "anchor") or GENESIS)
    rows = db.execute(f"SELECT {FIELDS} FROM calls WHERE id >= ? ORDER BY id", (from_id,)).fetchall()  # noqa: S608
    chains = relink(previous, rows)
    db.executemany(
        "UPDATE calls SET chain = ? WHERE id = ?", [(c, r[0]) for c, r in zip(chains, rows, strict=True)]
    )
    newest = db.execute("SELECT id, chain FROM calls ORDER BY id DESC LIMIT 1").fetchone()
    _set(db, "head", json.dumps(None if newest is None else [newest[0], newest[1]]))


def prune(db: sqlite3.Connection, before: float) -> int:
    """Delete the records started before ``before``; the chain's anchor becomes the chain of the
    newest record deleted, and the kept records are chained again from it."""
    last = db.execute(
        "SELECT chain FROM calls WHERE started < ? ORDER BY id DESC LIMIT 1", (before,)
    ).fetchone()
    gone = int(db.execute("DELETE FROM calls WHERE started < ?", (before,)).rowcount)
    if gone:
        if last is not None and last[0]:
            _set(db, "anchor", str(last[0]))
        rechain(db, 0)
    return gone


@dataclass(frozen=True)
class Finding:
    """The first place the chain does not hold: ``record`` (its id) and ``what`` happened."""

    record: int | None
    what: str


def verify(db: sqlite3.Connection) -> Finding | None:
    """The first record changed, removed or inserted since it was chained; None when all hold."""
    rows = db.execute(f"SELECT {FIELDS}, chain FROM calls ORDER BY id").fetchall()  # noqa: S608
    return check(rows, _meta(db, "anchor"), _meta(db, "head"))


def check(rows: Sequence[Sequence[Any]], anchor: str | None, head_json: str | None) -> Finding | None:
    """``verify`` of ``rows`` (by id, ``FIELDS`` then the chain) against the stored ``anchor`` and
    head (as stored: JSON of [id, chain], or None when the journal never held a record)."""
    previous = anchor or GENESIS
    head = json.loads(head_json or "null")
    last_id: int | None = None
    for index, row in enumerate(rows):
        record, chain = int(row[0]), row[-1]
        if chain is None or link(previous, row[:-1]) != chain:
            after = rows[index + 1] if index + 1 < len(rows) else None
            return _explain(previous, record, last_id, after, head)
        previous, last_id = chain, record
    if head is not None and (last_id is None or head[0] > last_id):
        newest = head[0]
        return Finding(newest, f"record #{newest} was removed (it was the journal's newest record)")
    if head is not None and head[1] != previous:
        return Finding(last_id, f"record #{last_id} was changed (the journal's head does not match it)")
    return None


def _explain(
    previous: str, record: int, last_id: int | None, after: Sequence[Any] | None, head: Any
) -> Finding:
    """Which of insertion, removal or change explains a chain that does not hold at ``record``."""
    skipped = after is not None and after[-1] == link(previous, after[:-1])
    if skipped or (head is not None and record > head[0] and after is None):
        return Finding(record, f"record #{record} was inserted (the chain runs past it)")
    if last_id is not None and record > last_id + 1:
        removed = last_id + 1
        return Finding(
            removed, f"record #{removed} was removed (record #{record} no longer follows its predecessor)"
        )
    return Finding(record, f"record #{record} was changed (its fields no longer match its chain)")
