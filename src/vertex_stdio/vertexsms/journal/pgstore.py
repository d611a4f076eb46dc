"""``PgStore``: the journal in a PostgreSQL database that a team's machines share (issue 23).

Every write is one short transaction that first takes this journal's advisory lock
(``pg_advisory_xact_lock``, its key derived from the database and schema: one journal, one
account), so the duplicate check, the limits (counted in SQL, ``pgquery.py``) and the
``pending`` insert are one step for every process on every machine; the lock is released by
the commit.  The audit chain is kept as ``chain.py`` keeps it, under the same lock.

Connection: libpq, told by the URL (``sslmode``, ``connect_timeout``, a service file,
``PGPASSWORD``, ``~/.pgpass``); a password from the keyring is passed apart from the URL.
One connection per store, used by one thread at a time; a connection the server dropped while
idle (a restart) is replaced when the next transaction's first statement finds it gone,
before that transaction has written anything.  Every ``psycopg.Error`` becomes a
``JournalStoreError`` naming the URL without its password, with the password cut from
libpq's words.  ``wait=False`` always answers ``Busy``: a network round trip never runs on
the event loop.  Imports ``psycopg``: load this module only for a postgresql:// URL.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from vertex_stdio.core.redact import redact, register_secret
from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.journal import chain, pgquery, pgschema
from vertex_stdio.vertexsms.journal.records import Finish, NewCall, Record, Rules, clock_check, decide
from vertex_stdio.vertexsms.journal.sqlite import INSERTED
from vertex_stdio.vertexsms.journal.store import Busy, JournalStoreError, Refused, StoreFacts
from vertex_stdio.vertexsms.policy import counted_breach, opted_out

FIELDS = chain.FIELDS
# Bounds on waiting for the server: a statement (the advisory lock included) and a connection.
STATEMENT_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 5
TCP_USER_TIMEOUT_MS = 20_000


class PgStore:
    """A ``JournalStore`` in the PostgreSQL database at ``url`` (schema created or migrated on open)."""

    watched = False  # no file to be replaced under it: ``SendJournal.watch`` leaves it alone

    def __init__(self, url: str, *, password: str | None = None) -> None:
        self.where = redacted_url(url)
        self._url = url
        self._password = password
        self._secrets = [password, _url_password(url)]
        for secret in self._secrets:
            register_secret(secret)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock, self._translated("opened"):
            conn = self._connection()
            names = conn.execute("SELECT current_database(), current_schema()").fetchone()
            database, schema = (str(names[0]), str(names[1])) if names else ("", "")
            self._key = pgschema.lock_key("calls", database, schema)
            self._version = pgschema.migrate(conn, self.where, pgschema.lock_key("schema", database, schema))

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        with self._transaction(wait, "written") as db:
            jumped = clock_check(_one(db, "SELECT MAX(started) FROM calls"), new.started)
            if jumped is not None:
                raise Refused(jumped)
            if rules is not None:
                verdict = decide(new, pgquery.window(db, new, rules), rules) or _capped(db, new, rules)
                if verdict is not None:
                    raise Refused(verdict)
            row = db.execute(
                f"INSERT INTO calls (outcome, {', '.join(INSERTED)}) "  # noqa: S608
                f"VALUES ('pending', {', '.join('%s' for _ in INSERTED)}) RETURNING id",
                [getattr(new, name) for name in INSERTED],
            ).fetchone()
            record_id = int(row[0]) if row else 0
            _rechain(db, record_id)
            return record_id

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        with self._transaction(wait, "written") as db:
            db.execute(
                "UPDATE calls SET outcome = %s, message_id = %s, parts = COALESCE(%s, parts), "
                "price_eur = COALESCE(%s, price_eur), detail = %s, finished = %s WHERE id = %s",
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
            _rechain(db, record_id)

    def records(self, since: float, *, outcomes: tuple[str, ...] | None = None) -> list[Record]:
        query = f"SELECT {FIELDS} FROM calls WHERE started >= %s"  # noqa: S608
        args: list[Any] = [since]
        if outcomes is not None:
            query += " AND outcome = ANY(%s)"
            args.append(list(outcomes))
        with self._reading() as db:
            rows = db.execute(query + " ORDER BY started DESC, id DESC", args).fetchall()
        return [pgquery.record(r) for r in rows]

    def by_message_id(self, message_id: str) -> Record | None:
        with self._reading() as db:
            row = db.execute(
                f"SELECT {FIELDS} FROM calls WHERE message_id = %s ORDER BY started DESC, id DESC LIMIT 1",  # noqa: S608
                (message_id,),
            ).fetchone()
        return None if row is None else pgquery.record(row)

    def prune(self, before: float) -> int:
        with self._transaction(True, "pruned") as db:
            last = db.execute(
                "SELECT chain FROM calls WHERE started < %s ORDER BY id DESC LIMIT 1", (before,)
            ).fetchone()
            gone = int(db.execute("DELETE FROM calls WHERE started < %s", (before,)).rowcount)
            if gone:
                if last is not None and last[0]:
                    _set(db, "anchor", str(last[0]))
                _rechain(db, 0)
            return gone

    def set_optout(self, numbers: list[str], listed: bool, when: float) -> None:
        with self._transaction(True, "written") as db, db.cursor() as cursor:
            if listed:
                cursor.executemany(
                    "INSERT INTO optout (number, added) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(n, when) for n in numbers],
                )
            else:
                cursor.executemany("DELETE FROM optout WHERE number = %s", [(n,) for n in numbers])

    def optouts(self) -> list[tuple[str, float]]:
        with self._reading() as db:
            rows = db.execute("SELECT number, added FROM optout ORDER BY number").fetchall()
        return [(str(n), float(t)) for n, t in rows]

    def newest(self) -> float | None:
        with self._reading() as db:
            found = _one(db, "SELECT MAX(started) FROM calls")
        return None if found is None else float(found)

    def chained(self, since: float) -> list[tuple[Record, str | None]]:
        query = f"SELECT {FIELDS}, chain FROM calls WHERE started >= %s ORDER BY id"  # noqa: S608
        with self._reading() as db:
            rows = db.execute(query, (since,)).fetchall()
        return [(pgquery.record(r[:-1]), r[-1]) for r in rows]

    def verify(self) -> tuple[chain.Finding | None, int]:
        with self._transaction(True, "read", lock=False, snapshot=True) as db:
            rows = db.execute(f"SELECT {FIELDS}, chain FROM calls ORDER BY id").fetchall()  # noqa: S608
            found = chain.check(rows, _meta(db, "anchor"), _meta(db, "head"))
        return found, len(rows)

    def facts(self) -> StoreFacts:
        with self._reading() as db:
            now = _one(db, "SELECT extract(epoch FROM clock_timestamp())::float8")
            return StoreFacts(self.where, pgschema.version(db), None if now is None else float(now))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, or a new one (the caller holds ``_lock``)."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        told = conninfo_to_dict(self._url)
        extra: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in told:
            extra["connect_timeout"] = CONNECT_TIMEOUT_S
        if "tcp_user_timeout" not in told:
            # A server gone silent (a network cut, not a refusal) fails the call instead of hanging it.
            extra["tcp_user_timeout"] = TCP_USER_TIMEOUT_MS
        if "application_name" not in told:
            extra["application_name"] = "vertex-stdio"
        if self._password is not None and "password" not in told:
            extra["password"] = self._password
        conn = psycopg.connect(self._url, **extra)
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def _transaction(
        self, wait: bool, doing: str, *, lock: bool = True, snapshot: bool = False
    ) -> Iterator[psycopg.Connection[Any]]:
        """One transaction under the journal's advisory lock (``lock``), committed at the end."""
        if not wait:
            raise Busy(f"the team journal {self.where} is reached over the network")
        with self._lock, self._translated(doing):
            db = self._started(lock, snapshot)
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if not db.closed and not db.broken:
                    with contextlib.suppress(psycopg.Error):
                        db.execute("ROLLBACK")
                raise

    def _started(self, lock: bool, snapshot: bool) -> psycopg.Connection[Any]:
        """A connection in a new transaction (the lock taken), on a new connection if the old
        one turns out dead at the first statement: nothing of this transaction reached a server."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ" if snapshot else "BEGIN"
        for attempt in (1, 2):
            db = self._connection()
            try:
                db.execute(begin)
                if lock:
                    db.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                return db
            except psycopg.OperationalError:
                if attempt == 2 or not db.broken:
                    raise
                self._drop()
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        with self._transaction(True, "read", lock=False) as db:
            yield db

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._drop()
            said = _cut(redact(" ".join(str(exc).split()), also=self._secrets), self._secrets)
            raise JournalStoreError(f"the team journal {self.where} could not be {doing} ({said})") from None


def _capped(db: Any, new: NewCall, rules: Rules) -> Any:
    """The opt-out list and the policy's caps, read in the same transaction as the limits."""
    listed = "SELECT 1 FROM optout WHERE number = %s"
    if new.tool == "send_sms" and new.recipient and db.execute(listed, (new.recipient,)).fetchone():
        return opted_out(new.recipient)
    if rules.policy is None:
        return None
    return counted_breach(rules.policy, new.price_eur, pgquery.usage(db, new))


def _one(db: Any, query: str) -> Any:
    row = db.execute(query).fetchone()
    return None if row is None else row[0]


def _meta(db: Any, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set(db: Any, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )


def _rechain(db: Any, from_id: int) -> None:
    """``chain.rechain`` in PostgreSQL: the chain of every record from ``from_id`` on, and the head."""
    before = db.execute(
        "SELECT chain FROM calls WHERE id < %s ORDER BY id DESC LIMIT 1", (from_id,)
    ).fetchone()
    previous = before[0] if before and before[0] else (_meta(db, "anchor") or chain.GENESIS)
    rows = db.execute(f"SELECT {FIELDS} FROM calls WHERE id >= %s ORDER BY id", (from_id,)).fetchall()  # noqa: S608
    links = chain.relink(previous, rows)
    with db.cursor() as cursor:
        cursor.executemany(
            "UPDATE calls SET chain = %s WHERE id = %s", [(c, r[0]) for c, r in zip(links, rows, strict=True)]
        )
    newest = db.execute("SELECT id, chain FROM calls ORDER BY id DESC LIMIT 1").fetchone()
    _set(db, "head", json.dumps(None if newest is None else [newest[0], newest[1]]))


def _url_password(url: str) -> str | None:
    """The password written in ``url`` (to be cut from any text libpq answers with)."""
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


def _cut(text: str, secrets: list[str | None]) -> str:
    """``text`` without any of ``secrets``, however short (``redact`` leaves out short ones)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
