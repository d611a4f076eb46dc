"""``SqliteStore``: the journal as a SQLite file shared by every vertex-stdio process.

WAL mode (readers never wait for a writer), a busy timeout (writers wait for each other,
bounded), and short transactions.  ``begin`` runs under ``BEGIN IMMEDIATE``, which takes the
write lock before reading, so the duplicate/limit check and the ``pending`` insert are one
step for every process at once.  The file is created 0600 in a 0700 directory.  Every
``sqlite3.Error`` becomes a ``JournalStoreError`` saying what is wrong with the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vertex_stdio.core.privatefs import open_private
from vertex_stdio.vertexsms.journal.records import DAY, Finish, NewCall, Record, Rules, Window, decide
from vertex_stdio.vertexsms.journal.store import Busy, JournalStoreError, Refused

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    tool TEXT NOT NULL,
    kind TEXT NOT NULL,
    started REAL NOT NULL,
    outcome TEXT NOT NULL,
    recipient TEXT,
    sender TEXT,
    digest TEXT,
    preview TEXT,
    parts INTEGER,
    price_eur REAL,
    message_id TEXT,
    detail TEXT,
    finished REAL,
    pid INTEGER,
    client TEXT
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started);
CREATE INDEX IF NOT EXISTS calls_message_id ON calls (message_id);
CREATE INDEX IF NOT EXISTS calls_digest ON calls (digest);
"""
LIVE = "outcome IN ('pending', 'sent', 'unknown')"
COLUMNS = (
    "id, tool, kind, started, outcome, recipient, sender, digest, preview, parts, price_eur, "
    "message_id, detail, finished, pid, client"
)
BUSY_TIMEOUT = 5.0


class SqliteStore:
    """A ``JournalStore`` in the SQLite file at ``path`` (created, with its directory, if absent)."""

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._busy_ms = int(busy_timeout * 1000)
        self._db = _open(path, busy_timeout)

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        with self._transaction(wait) as db:
            if rules is not None:
                verdict = decide(new, _window(db, new, rules), rules)
                if verdict is not None:
                    raise Refused(verdict)
            cursor = db.execute(
                "INSERT INTO calls (tool, kind, started, outcome, recipient, sender, digest, preview, "
                "parts, price_eur, pid, client) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.tool,
                    new.kind,
                    new.started,
                    new.recipient,
                    new.sender,
                    new.digest,
                    new.preview,
                    new.parts,
                    new.price_eur,
                    new.pid,
                    new.client,
                ),
            )
            return int(cursor.lastrowid or 0)

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        with self._transaction(wait) as db:
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
                    record_id,
                ),
            )

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
            return db.execute("DELETE FROM calls WHERE started < ?", (before,)).rowcount

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
            with _translated(self.path):
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
        with self._lock, _translated(self.path):
            yield self._db


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
    messages, recipients, eur, known = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT recipient), COALESCE(SUM(price_eur), 0), "  # noqa: S608
        f"COALESCE(MAX(recipient IS ?), 0) FROM calls WHERE tool = ? AND kind = ? AND started >= ? AND {LIVE}",
        (new.recipient, new.tool, new.kind, new.started - DAY),
    ).fetchone()
    return Window(duplicate, int(messages), int(recipients), bool(known), float(eur))


def _record(row: tuple[Any, ...]) -> Record:
    return Record(*row)


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise Busy(_why(path, exc)) from exc
        raise JournalStoreError(_why(path, exc)) from exc
    except sqlite3.Error as exc:
        raise JournalStoreError(_why(path, exc)) from exc


def _why(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return f"the send journal {path} stayed locked by another process for over {BUSY_TIMEOUT:.0f} s"
    if "readonly" in text or "read-only" in text:
        return f"the send journal {path} cannot be written (check its permissions)"
    if (isinstance(exc, sqlite3.DatabaseError) and "not a database" in text) or "malformed" in text:
        return f"the send journal {path} is damaged ({text})"
    return f"the send journal {path} cannot be used ({type(exc).__name__}: {text})"


def _open(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Connect, creating the directory (0700) and file (0600) first; WAL on; schema in place."""
    try:
        os.close(open_private(path, os.O_RDWR | os.O_CREAT))
    except OSError as exc:
        raise JournalStoreError(
            f"the send journal {path} cannot be created or opened ({exc.strerror or exc})"
        ) from exc
    ends = time.monotonic() + busy_timeout
    with _translated(path):
        while True:
            db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a committed record survives the process dying (not a power cut), and
                # a commit costs no fsync, which keeps the journal's share of a send well under 1 ms.
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                db.execute("SELECT count(*) FROM calls").fetchone()
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                # Processes opening a new journal at once: switching it to WAL and creating the
                # schema can answer "locked" at once, without waiting (SQLite's deadlock rule), so
                # the open is tried again until the busy timeout.  Nothing has been sent yet.
                if not _contended(exc) or time.monotonic() >= ends:
                    raise
                time.sleep(0.02)
            except BaseException:
                db.close()
                raise


def _contended(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
