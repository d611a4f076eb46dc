"""Opening the journal's SQLite file: private file, WAL, schema in place (older files brought up
to date), and every ``sqlite3.Error`` translated into a ``JournalStoreError`` saying what is wrong."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from vertex_stdio.core.privatefs import open_private
from vertex_stdio.vertexsms.journal import chain
from vertex_stdio.vertexsms.journal.store import Busy, JournalStoreError

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
    client TEXT,
    price_source TEXT
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started);
CREATE INDEX IF NOT EXISTS calls_message_id ON calls (message_id);
CREATE INDEX IF NOT EXISTS calls_digest ON calls (digest);
CREATE INDEX IF NOT EXISTS calls_recipient ON calls (recipient);
CREATE TABLE IF NOT EXISTS optout (number TEXT PRIMARY KEY, added REAL NOT NULL);
"""
# Columns added since the first release, put in place on open in a journal made before them.
ADDED_COLUMNS = {
    "price_source": "TEXT",
    "machine": "TEXT NOT NULL DEFAULT ''",
    "os_user": "TEXT NOT NULL DEFAULT ''",
}
BUSY_TIMEOUT = 5.0


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
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


def open_db(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Connect, creating the directory (0700) and file (0600) first; WAL on; schema in place."""
    try:
        os.close(open_private(path, os.O_RDWR | os.O_CREAT))
    except OSError as exc:
        raise JournalStoreError(
            f"the send journal {path} cannot be created or opened ({exc.strerror or exc})"
        ) from exc
    ends = time.monotonic() + busy_timeout
    with translated(path):
        while True:
            db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a committed record survives the process dying (not a power cut), and
                # a commit costs no fsync, which keeps the journal's share of a send well under 1 ms.
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                _add_columns(db)
                _migrate(db)
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


def _add_columns(db: sqlite3.Connection) -> None:
    """Columns newer than the file: added in place (older rows read them as NULL)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in have:
            try:
                db.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first: fine
                    raise


def _contended(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older journal up to the schema version (the audit chain) in one transaction."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= chain.SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        chain.migrate(db)  # looks again inside the lock: another process may have done it
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
