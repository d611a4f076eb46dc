"""Where the emulator keeps what it was told: messages, senders and id counters.

``MemoryBook`` lives as long as one emulator (the tests' upstream); ``SqliteBook`` is a file in
the state directory (``serve --sandbox`` and ``call --sandbox``), so a message sent by one
process has a status in the next, sender ids continue, and a sender registered before a client
restart can be confirmed after it.  Several processes share the file: every change is one
``BEGIN IMMEDIATE`` transaction (SQLite's write lock, waited for up to ``BUSY_TIMEOUT``).
Both keep the same rules; ``ApiError`` is how they refuse.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vertex_stdio.core.privatefs import open_private

SANDBOX_FILE = "sandbox.sqlite3"
SANDBOX_PIN = "12345"  # every MSISDN sender's confirmation PIN in the sandbox (no SMS is sent)
FIRST_SENDER_ID = 123
FIRST_HLR_ID = 1_203_877_133
BUSY_TIMEOUT = 5.0
KEEP_SECONDS = 30 * 86400.0  # messages older than this are forgotten (as VertexSMS forgets them)


class ApiError(Exception):
    """A REST error answer: ``status`` with body ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Sender:
    """A registered sender ID; MSISDN senders wait for ``SANDBOX_PIN``."""

    id: int
    name: str
    type: str
    confirmed: bool


class Book(Protocol):
    """The emulator's memory.  Times are wall-clock seconds (they outlive a process)."""

    def new_message(self, test_mode: str | None, now: float) -> str: ...
    def message(self, message_id: str) -> tuple[float, str | None] | None: ...
    def new_hlr(self) -> int: ...
    def new_sender(self, name: str, kind: str) -> int: ...
    def confirm_sender(self, sender_id: int, code: str) -> None: ...
    def close(self) -> None: ...


def default_book_file() -> Path:
    """``sandbox.sqlite3`` in the platform state directory, beside the send journal."""
    import platformdirs

    return platformdirs.user_state_path("vertex-stdio", appauthor=False) / SANDBOX_FILE


def message_base() -> int:
    """A fresh message-id base: books that share one send journal do not collide."""
    return 1_000_001 + secrets.randbelow(9000) * 1_000_000


def taken(name: str) -> ApiError:
    return ApiError(409, f"Sender ID {name} is already registered for this account.")


def check_confirmable(sender: Sender | None, sender_id: int, code: str) -> None:
    """404 unknown, 409 not an MSISDN or already confirmed, 400 wrong PIN."""
    if sender is None:
        raise ApiError(404, f"Sender ID {sender_id} was not found.")
    if sender.type != "MSISDN":
        raise ApiError(409, "Only MSISDN sender IDs are confirmed with a PIN.")
    if sender.confirmed:
        raise ApiError(409, f"Sender ID {sender_id} is already confirmed.")
    if code != SANDBOX_PIN:
        raise ApiError(400, f"The confirmation code is not valid (the sandbox PIN is always {SANDBOX_PIN}).")


class MemoryBook:
    """A ``Book`` for one emulator's life; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._message_ids = itertools.count(message_base())
        self._hlr_ids = itertools.count(FIRST_HLR_ID)
        self._sender_ids = itertools.count(FIRST_SENDER_ID)
        self._messages: dict[str, tuple[float, str | None]] = {}
        self._senders: dict[int, Sender] = {}

    def new_message(self, test_mode: str | None, now: float) -> str:
        with self._lock:
            message_id = f"sandbox-{next(self._message_ids)}"
            self._messages[message_id] = (now, test_mode)
            return message_id

    def message(self, message_id: str) -> tuple[float, str | None] | None:
        with self._lock:
            return self._messages.get(message_id)

    def new_hlr(self) -> int:
        with self._lock:
            return next(self._hlr_ids)

    def new_sender(self, name: str, kind: str) -> int:
        with self._lock:
            if any(s.name.lower() == name.lower() for s in self._senders.values()):
                raise taken(name)
            sender_id = next(self._sender_ids)
            self._senders[sender_id] = Sender(sender_id, name, kind, confirmed=False)
            return sender_id

    def confirm_sender(self, sender_id: int, code: str) -> None:
        with self._lock:
            sender = self._senders.get(sender_id)
            check_confirmable(sender, sender_id, code)
            if sender is not None:
                sender.confirmed = True

    def close(self) -> None:
        return None


SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, sent_at REAL NOT NULL, test_mode TEXT);
CREATE TABLE IF NOT EXISTS senders (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, confirmed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SqliteBook:
    """A ``Book`` in the SQLite file at ``path`` (0600 in a 0700 directory), shared by processes."""

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self._lock = threading.Lock()
        os.close(open_private(path, os.O_RDWR | os.O_CREAT))
        self._db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            # No fsync per change (4 ms each here): a crash of this process still leaves every
            # commit whole; only a power cut could lose the last sandbox messages, which are samples.
            self._db.execute("PRAGMA synchronous=OFF")
            with self._write() as db:  # the schema under the write lock: processes may open it at once
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("DELETE FROM messages WHERE sent_at < ?", (time.time() - KEEP_SECONDS,))
        except BaseException:
            self._db.close()
            raise

    def new_message(self, test_mode: str | None, now: float) -> str:
        with self._write() as db:
            message_id = f"sandbox-{_next(db, 'message', message_base())}"
            db.execute("INSERT INTO messages VALUES (?, ?, ?)", (message_id, now, test_mode))
            return message_id

    def message(self, message_id: str) -> tuple[float, str | None] | None:
        with self._lock, self._translated():
            row = self._db.execute(
                "SELECT sent_at, test_mode FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return None if row is None else (float(row[0]), row[1])

    def new_hlr(self) -> int:
        with self._write() as db:
            return _next(db, "hlr", FIRST_HLR_ID)

    def new_sender(self, name: str, kind: str) -> int:
        with self._write() as db:
            if db.execute("SELECT 1 FROM senders WHERE lower(name) = lower(?)", (name,)).fetchone():
                raise taken(name)
            sender_id = _next(db, "sender", FIRST_SENDER_ID)
            db.execute("INSERT INTO senders VALUES (?, ?, ?, 0)", (sender_id, name, kind))
            return sender_id

    def confirm_sender(self, sender_id: int, code: str) -> None:
        with self._write() as db:
            row = db.execute(
                "SELECT id, name, type, confirmed FROM senders WHERE id = ?", (sender_id,)
            ).fetchone()
            sender = None if row is None else Sender(int(row[0]), row[1], row[2], bool(row[3]))
            check_confirmable(sender, sender_id, code)
            db.execute("UPDATE senders SET confirmed = 1 WHERE id = ?", (sender_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short transaction holding SQLite's write lock from its start (``BEGIN IMMEDIATE``)."""
        with self._lock, self._translated():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """A SQLite failure as the emulator's 500, saying which file and what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            raise ApiError(500, unusable(self.path, exc)) from exc


def unusable(path: Path, exc: BaseException) -> str:
    return (
        f"The sandbox's memory {path} cannot be used ({type(exc).__name__}: {exc}). "
        "Delete that file to start the sandbox afresh (nothing real is lost: it only holds sandbox data)."
    )


def _next(db: sqlite3.Connection, name: str, first: int) -> int:
    """The counter's next value (``first`` for a new counter), inside the caller's transaction."""
    row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    value = first if row is None else int(row[0]) + 1
    db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value))
    return value
