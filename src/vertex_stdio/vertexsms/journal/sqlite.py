"""``SqliteStore``: the journal as a SQLite file shared by every vertex-stdio process.

WAL mode (readers never wait for a writer), a busy timeout (writers wait for each other,
bounded), and short transactions.  ``begin`` runs under ``BEGIN IMMEDIATE``, which takes the
write lock before reading, so the duplicate/limit check and the ``pending`` insert are one
step for every process at once.  The file is created 0600 in a 0700 directory.  Every
``sqlite3.Error`` becomes a ``JournalStoreError`` saying what is wrong with the file.

Before each transaction the file at ``path`` is compared (device and inode) with the one this
connection has open.  When it was deleted or replaced, the connection would go on writing
where no other process looks, so the store reopens ``path`` (creating it if it is gone) and
copies the last day of records it can still read from the old file into the new one (the
duplicate guard and the limits need them); when ``path`` cannot be opened, the transaction fails
with ``JournalStoreError`` and nothing is sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vertex_stdio.vertexsms.journal import chain
from vertex_stdio.vertexsms.journal.records import (
    DAY,
    INSERTED,
    Finish,
    Kind,
    NewCall,
    Record,
    Rules,
    Verdict,
    Window,
    clock_check,
    counted_with,
    decide,
)
from vertex_stdio.vertexsms.journal.sqlitefile import BUSY_TIMEOUT, open_db, translated
from vertex_stdio.vertexsms.journal.store import Busy, Refused, StoreFacts
from vertex_stdio.vertexsms.journal.usage import usage_sql
from vertex_stdio.vertexsms.policy import Breach, counted_breach, opted_out

log = logging.getLogger(__name__)

LIVE = "outcome IN ('pending', 'sent', 'unknown')"
COLUMNS = chain.FIELDS  # every ``Record`` field, in its order


class SqliteStore:
    """A ``JournalStore`` in the SQLite file at ``path`` (created, with its directory, if absent)."""

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.where = str(path)
        self._lock = threading.Lock()
        self._busy_ms = int(busy_timeout * 1000)
        self._busy_timeout = busy_timeout
        self._db = open_db(path, busy_timeout)
        self._file = _identity(path)
        # Ids handed out by ``begin``: those of this file, and those of replaced files mapped to
        # their copies here, so a call begun before a replacement is finished in the new file.
        self._begun: set[int] = set()
        self._moved: dict[int, int | None] = {}

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        with self._transaction(wait) as db:
            verdict = _verdict(db, new, rules)
            if verdict is not None:
                raise Refused(verdict)
            cursor = db.execute(
                f"INSERT INTO calls (outcome, {', '.join(INSERTED)}) "  # noqa: S608
                f"VALUES ('pending', {', '.join('?' for _ in INSERTED)})",
                [getattr(new, name) for name in INSERTED],
            )
            record_id = int(cursor.lastrowid or 0)
            chain.rechain(db, record_id)
            self._begun.add(record_id)
            return record_id

    def judge(self, new: NewCall, rules: Rules) -> Verdict:
        with self._reading() as db:
            db.execute("BEGIN")  # one snapshot for the several statements
            try:
                return _verdict(db, new, rules)
            finally:
                db.execute("ROLLBACK")

    def sent_to(self, recipient: str, kind: Kind) -> bool:
        query = "SELECT EXISTS (SELECT 1 FROM calls WHERE recipient = ? AND kind = ? AND outcome = 'sent')"
        with self._reading() as db:
            return bool(db.execute(query, (recipient, kind)).fetchone()[0])

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        with self._transaction(wait) as db:
            target = self._moved.get(record_id) if record_id in self._moved else record_id
            if target is None:
                log.error(
                    "journal record #%d was lost with its replaced file; outcome not recorded", record_id
                )
                return
            db.execute(
                "UPDATE calls SET outcome = ?, message_id = ?, parts = COALESCE(?, parts), "
                "price_eur = COALESCE(?, price_eur), detail = ?, finished = ? WHERE id = ?",
                (
                    finish.outcome,
                    finish.message_id,
                    finish.parts,
                    finish.price_eur,
                    finish.detail,
                    when,
                    target,
                ),
            )
            chain.rechain(db, target)

    def records(self, since: float, *, outcomes: tuple[str, ...] | None = None) -> list[Record]:
        query = f"SELECT {COLUMNS} FROM calls WHERE started >= ?"  # noqa: S608
        args: list[Any] = [since]
        if outcomes is not None:
            query += f" AND outcome IN ({', '.join('?' for _ in outcomes)})"
            args.extend(outcomes)
        with self._reading() as db:
            rows = db.execute(query + " ORDER BY started DESC, id DESC", args).fetchall()
        return [_record(r) for r in rows]

    def by_message_id(self, message_id: str) -> Record | None:
        with self._reading() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM calls WHERE message_id = ? ORDER BY started DESC LIMIT 1",  # noqa: S608
                (message_id,),
            ).fetchone()
        return None if row is None else _record(row)

    def prune(self, before: float) -> int:
        with self._transaction() as db:
            return chain.prune(db, before)

    def set_optout(self, numbers: list[str], listed: bool, when: float) -> None:
        with self._transaction() as db:
            if listed:
                db.executemany("INSERT OR IGNORE INTO optout VALUES (?, ?)", [(n, when) for n in numbers])
            else:
                db.executemany("DELETE FROM optout WHERE number = ?", [(n,) for n in numbers])

    def optouts(self) -> list[tuple[str, float]]:
        with self._reading() as db:
            return [
                (str(n), float(t)) for n, t in db.execute("SELECT number, added FROM optout ORDER BY number")
            ]

    def newest(self) -> float | None:
        with self._reading() as db:
            found = db.execute("SELECT MAX(started) FROM calls").fetchone()[0]
        return None if found is None else float(found)

    def chained(self, since: float) -> list[tuple[Record, str | None]]:
        query = f"SELECT {COLUMNS}, chain FROM calls WHERE started >= ? ORDER BY id"  # noqa: S608
        with self._reading() as db:
            rows = db.execute(query, (since,)).fetchall()
        return [(_record(r[:-1]), r[-1]) for r in rows]

    def verify(self) -> tuple[chain.Finding | None, int]:
        with self._reading() as db:
            db.execute("BEGIN")  # one snapshot: other processes may be writing meanwhile
            try:
                return chain.verify(db), int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            finally:
                db.execute("ROLLBACK")

    def facts(self) -> StoreFacts:
        with self._reading() as db:
            return StoreFacts(self.where, int(db.execute("PRAGMA user_version").fetchone()[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """One short write transaction, the write lock taken up front (``BEGIN IMMEDIATE``).

        ``wait=False`` raises ``Busy`` at once instead of waiting for the lock (ours or another
        process's), so an uncontended call can run without a thread.
        """
        if not self._lock.acquire(blocking=wait):
            raise Busy(f"the send journal {self.path} is busy")
        try:
            self._same_file()
            with translated(self.path):
                if not wait:
                    self._db.execute("PRAGMA busy_timeout = 0")
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                finally:
                    if not wait:
                        self._db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._same_file()
            with translated(self.path):
                yield self._db

    def _same_file(self) -> None:
        """Reopen ``path`` when the file there is no longer the one open (deleted or replaced)."""
        if _identity(self.path) == self._file:
            return
        log.warning("the send journal %s was deleted or replaced; reopening it", self.path)
        old = self._db
        carried = _last_day(old)
        new = open_db(self.path, self._busy_timeout)  # JournalStoreError: nothing is sent
        with contextlib.suppress(sqlite3.Error):
            old.close()  # SQLite leaves a moved file's WAL alone, so this harms no new file
        self._db = new
        self._file = _identity(self.path)
        with translated(self.path):
            copies = _carry(new, carried)
        earlier = {k: v for k, v in self._moved.items() if v is not None}
        self._moved = {k: copies.get(v) for k, v in earlier.items()}
        self._moved.update({k: copies.get(k) for k in self._begun})
        self._begun = set()


def _verdict(db: sqlite3.Connection, new: NewCall, rules: Rules | None) -> Verdict:
    """``begin``'s check, counted by SQLite in the caller's transaction."""
    jumped = clock_check(db.execute("SELECT MAX(started) FROM calls").fetchone()[0], new.started)
    if jumped is not None or rules is None:
        return jumped
    return decide(new, _window(db, new, rules), rules) or _capped(db, new, rules)


def _window(db: sqlite3.Connection, new: NewCall, rules: Rules) -> Window:
    """The guard's and limits' view of recent records, summed up by SQLite (no rows loaded)."""
    duplicate = None
    if rules.duplicate_window > 0 and not new.allow_duplicate:
        row = db.execute(
            f"SELECT {COLUMNS} FROM calls WHERE digest IS ? AND recipient IS ? AND sender IS ? "  # noqa: S608
            f"AND tool = ? AND kind = ? AND started >= ? AND {LIVE} ORDER BY started DESC, id DESC LIMIT 1",
            (new.digest, new.recipient, new.sender, new.tool, new.kind, new.started - rules.duplicate_window),
        ).fetchone()
        duplicate = None if row is None else _record(row)
    tools = sorted(counted_with(new.tool))
    marks = ", ".join("?" for _ in tools)
    # A record's parts (at least 1: a lookup, a PIN SMS) price its share when it has no price.
    parts = "MAX(COALESCE(parts, 1), 1)"
    sums = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT recipient), COALESCE(SUM(price_eur), 0), "  # noqa: S608
        f"COALESCE(MAX(recipient IS ?), 0), COALESCE(SUM(CASE WHEN price_eur IS NULL THEN {parts} END), 0), "
        f"COALESCE(MAX(price_eur / {parts}), 0) FROM calls "
        f"WHERE tool IN ({marks}) AND kind = ? AND started >= ? AND {LIVE}",
        (new.recipient, *tools, new.kind, new.started - DAY),
    ).fetchone()
    messages, recipients, eur, known, unpriced, top = sums
    return Window(
        duplicate, int(messages), int(recipients), bool(known), float(eur), int(unpriced), float(top)
    )


def _capped(db: sqlite3.Connection, new: NewCall, rules: Rules) -> Breach | None:
    """The opt-out list and the policy's caps, read in the same transaction as the limits."""
    optout = "SELECT 1 FROM optout WHERE number = ?"
    if new.tool == "send_sms" and new.recipient and db.execute(optout, (new.recipient,)).fetchone():
        return opted_out(new.recipient)
    if rules.policy is None:
        return None
    return counted_breach(rules.policy, new.price_eur, usage_sql(db, new))


def _record(row: tuple[Any, ...]) -> Record:
    return Record(*row)


def _identity(path: Path) -> tuple[int, int] | None:
    """The file at ``path`` as (device, inode); None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _last_day(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """The records of the last day of a file about to be left (as far as it can still be read)."""
    try:
        return db.execute(
            f"SELECT {COLUMNS} FROM calls WHERE started >= (SELECT MAX(started) FROM calls) - ?",  # noqa: S608
            (DAY,),
        ).fetchall()
    except sqlite3.Error as exc:
        log.warning("the replaced send journal could not be read (%s); its records are not carried over", exc)
        return []


def _carry(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> dict[int, int]:
    """Copy ``rows`` into ``db``, skipping any already there (another process may have carried
    them first); old id -> id in ``db``."""
    moved: dict[int, int] = {}
    db.execute("BEGIN IMMEDIATE")
    try:
        for row in rows:
            old_id, fields = int(row[0]), row[1:]
            tool, kind, started, pid = fields[0], fields[1], fields[2], fields[13]
            found = db.execute(
                "SELECT id FROM calls WHERE tool = ? AND kind = ? AND started = ? AND pid IS ?",
                (tool, kind, started, pid),
            ).fetchone()
            if found is None:
                # The same id where it is free, so ids handed out later cannot meet a mapped one.
                free = db.execute("SELECT 1 FROM calls WHERE id = ?", (old_id,)).fetchone() is None
                values = (old_id, *fields) if free else fields
                names = COLUMNS if free else COLUMNS.split(", ", 1)[1]
                cursor = db.execute(
                    f"INSERT INTO calls ({names}) VALUES ({', '.join('?' for _ in values)})",  # noqa: S608
                    values,
                )
                found = (cursor.lastrowid,)
            moved[old_id] = int(found[0])
        chain.rechain(db, 0)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return moved
