"""The team journal's one connection to PostgreSQL, and the transactions run on it.

``Link.write(body)`` runs ``body(connection)`` in one transaction under the journal's advisory
lock, in pipeline mode (statements whose results are not read go out together, so a billable
call's journal work is a few round trips, not one per statement), and commits.  A connection
the server dropped while idle (a restart, a failover) is found dead only when used; when that
happens before the transaction's COMMIT was sent, nothing of it was committed, so the whole
transaction runs once more on a new connection (the journal's transaction, never the send).
Once COMMIT was sent, a lost connection is an error: the outcome is not known.  ``read(body)``
runs reads outside a transaction, again on a new connection if the old one is dead.

Every ``psycopg.Error`` becomes a ``JournalStoreError`` naming the URL without its password,
with the password cut from libpq's words.  One thread at a time uses the connection.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from vertex_stdio.core.redact import redact, register_secret
from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.journal.store import JournalStoreError, Rejected, Unreachable
from vertex_stdio.vertexsms.journal.where import refusal_advice

T = TypeVar("T")
Connection = psycopg.Connection[Any]
# Bounds on waiting for the server: a statement (the advisory lock included), a connection, and
# a server gone silent (a network cut, not a refusal), which fails the call instead of hanging it.
STATEMENT_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 5
TCP_USER_TIMEOUT_MS = 20_000


class Link:
    """The connection to the database at ``url`` (``password`` given apart from it, if any)."""

    def __init__(self, url: str, password: str | None) -> None:
        self.where = redacted_url(url)
        self._url = url
        self._password = password
        self._secrets = [password, url_password(url)]
        for secret in self._secrets:
            register_secret(secret)
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self.key = 0  # the journal's advisory lock key, set once the store knows its database

    def write(
        self, body: Callable[[Connection], T], doing: str, *, lock: bool = True, snapshot: bool = False
    ) -> T:
        """``body`` in one transaction (under the journal's lock when ``lock``), committed."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ" if snapshot else "BEGIN"
        with self._lock, self._translated(doing):
            for attempt in (1, 2):
                db = self._connection()
                committing = False
                try:
                    with _batched(db):
                        # One cursor for the statements whose answers are not read (fewer objects
                        # made per call: the client's CPU is a good part of a call's journal time).
                        cur = db.cursor()
                        cur.execute(begin)
                        if lock:
                            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.key,))
                        result = body(db)
                        committing = True
                        cur.execute("COMMIT")
                    return result
                except psycopg.OperationalError:
                    if attempt == 2 or committing or not db.broken:
                        self._rollback(db)
                        raise
                    self._drop()
                except BaseException:
                    self._rollback(db)
                    raise
        raise AssertionError("unreachable")

    def read(self, body: Callable[[Connection], T]) -> T:
        """``body``'s reads, each its own statement (no transaction); retried once on a dead connection."""
        with self._lock, self._translated("read"):
            for attempt in (1, 2):
                db = self._connection()
                try:
                    return body(db)
                except psycopg.OperationalError:
                    if attempt == 2 or not db.broken:
                        raise
                    self._drop()
        raise AssertionError("unreachable")

    def setup(self, body: Callable[[Connection], T]) -> T:
        """``body`` on the connection as it is (autocommit), for opening: schema and names."""
        with self._lock, self._translated("opened"):
            return body(self._connection())

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> Connection:
        """The open connection, or a new one (the caller holds ``_lock``)."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        told = conninfo_to_dict(self._url)
        extra: dict[str, Any] = {"autocommit": True}
        defaults = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            "application_name": "vertex-stdio",
            "password": self._password,
        }
        extra.update({k: v for k, v in defaults.items() if k not in told and v is not None})
        conn = psycopg.connect(self._url, **extra)
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    @staticmethod
    def _rollback(db: Connection) -> None:
        if not db.closed and not db.broken:
            with contextlib.suppress(psycopg.Error):
                db.execute("ROLLBACK")

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._drop()
            said = cut(redact(" ".join(str(exc).split()), also=self._secrets), self._secrets)
            why = f"the team journal {self.where} could not be {doing} ({said})"
            # Refused (the password, the role, TLS): until a person fixes it.  Not reached, or
            # lost: the server may be back later.  Anything else (a schema problem) stays.
            if isinstance(exc, psycopg.OperationalError):
                advice = refusal_advice(self._url, said)
            else:
                advice = _SETUP_ADVICE.get(exc.sqlstate or "")
            if advice is not None:
                raise Rejected(why, advice) from None
            kind = Unreachable if isinstance(exc, psycopg.OperationalError) else JournalStoreError
            raise kind(why) from None


# What a person does about the database's answer when the journal's tables cannot be made or
# written there (by SQLSTATE): these stay until someone changes the database or the URL.
_SETUP_ADVICE = {
    "3F000": "create the schema the URL names (options=-csearch_path=NAME) first, CREATE SCHEMA NAME;, or correct its name",
    "42501": "give the URL's user the right to create tables and write in that database and schema (e.g. make it their owner)",
}


def _batched(db: Connection) -> contextlib.AbstractContextManager[Any]:
    """Pipeline mode where libpq has it (14 and later; psycopg[binary] brings its own)."""
    return db.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def url_password(url: str) -> str | None:
    """The password written in ``url`` (to be cut from any text libpq answers with)."""
    from urllib.parse import unquote, urlsplit

    try:
        found = conninfo_to_dict(url).get("password")
        return None if found is None else str(found)
    except psycopg.Error:
        pass
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
    except ValueError:
        return None
    return unquote(userinfo.partition(":")[2]) or None


def cut(text: str, secrets: list[str | None]) -> str:
    """``text`` without any of ``secrets``, however short (``redact`` leaves out short ones)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
