"""``PgStore``: the journal in a PostgreSQL database that a team's machines share (issue 23).

Every write is one short transaction that first takes this journal's advisory lock
(``pg_advisory_xact_lock``, its key derived from the database and schema: one journal, one
account), so the duplicate check, the limits (counted in SQL, ``pgquery.py``) and the
``pending`` insert are one step for every process on every machine; the commit releases the
lock.  The audit chain is kept as ``chain.py`` keeps it, under the same lock.  ``pglink.py``
sends statements in pipeline mode, so ``begin`` is two round trips: the check (which also reads
the new record's id and the chain it follows), then the insert with its chain, the head and
the commit together.  ``finish`` is one while its record is still the journal's newest and
follows the chain it was begun after (the update is conditional on that, in SQL); else two,
every later record's chain read and recomputed.

Both commit durably, as the server is set to (its ``synchronous_commit``, never lowered here):
a ``pending`` record and an outcome (the message id, the price) are money records, the
journal's answer to "what went out, and what did it cost".  ``wait=False`` always answers
``Busy``: a network round trip never runs on the event loop.  Imports ``psycopg``: load this
module only for a postgresql:// URL.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

from vertex_stdio.vertexsms.journal import chain, pglink, pgquery, pgschema
from vertex_stdio.vertexsms.journal.records import (
    COLUMNS,
    INSERTED,
    Finish,
    Kind,
    NewCall,
    Record,
    Rules,
    Verdict,
    clock_check,
    decide,
)
from vertex_stdio.vertexsms.journal.store import Busy, Refused, StoreFacts
from vertex_stdio.vertexsms.policy import Breach, counted_breach, opted_out

FIELDS = chain.FIELDS
_FLOATS = frozenset({"started", "price_eur", "finished"})
_INTS = frozenset({"id", "parts", "pid"})
# ``finish`` of the journal's newest record, when it still follows the chain it was begun after
# (args: id, id, that chain, the genesis; the new fields and chain; id; the new head).
FINISH_NEWEST = (
    "WITH fits AS (SELECT NOT EXISTS (SELECT 1 FROM calls WHERE id > %s) AND COALESCE("
    "(SELECT chain FROM calls WHERE id < %s ORDER BY id DESC LIMIT 1), "
    "(SELECT value FROM meta WHERE key = 'anchor')) IS NOT DISTINCT FROM NULLIF(%s, %s) AS ok), "
    "changed AS (UPDATE calls SET outcome = %s, message_id = %s, parts = COALESCE(%s, parts), "
    "price_eur = COALESCE(%s, price_eur), detail = %s, finished = %s, chain = %s "
    "WHERE id = %s AND (SELECT ok FROM fits) RETURNING id), "
    "head AS (UPDATE meta SET value = %s WHERE key = 'head' AND EXISTS (SELECT 1 FROM changed)) "
    "SELECT count(*) FROM changed"
)
# ``begin``'s insert of the ``pending`` record with its chain, and the journal's new head, in one
# statement (args: the head; the id, the chain and ``INSERTED``'s values).  Column names from
# ``Record``; every value a parameter.
INSERT_PENDING = (
    "WITH head AS (INSERT INTO meta (key, value) VALUES ('head', %s) "  # noqa: S608
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value) "
    f"INSERT INTO calls (id, outcome, chain, {', '.join(INSERTED)}) "
    f"VALUES (%s, 'pending', %s, {', '.join('%s' for _ in INSERTED)})"
)
# Served by the partial index ``calls_sent_to`` (``pgschema``).
SENT_TO = "SELECT EXISTS (SELECT 1 FROM calls WHERE recipient = %s AND kind = %s AND outcome = 'sent')"


class PgStore:
    """A ``JournalStore`` in the PostgreSQL database at ``url`` (schema created or migrated on open)."""

    watched = False  # no file to be replaced under it: ``SendJournal.watch`` leaves it alone

    def __init__(self, url: str, *, password: str | None = None) -> None:
        self._link = pglink.Link(url, password)
        self.where = self._link.where
        self._lock = threading.Lock()
        # Records this store began and has not finished: as begun, and the chain they follow.
        self._begun: dict[int, tuple[Record, str]] = {}

        def open_journal(db: pglink.Connection) -> None:
            names = db.execute("SELECT current_database(), current_schema()").fetchone()
            database, schema = (str(names[0]), str(names[1])) if names else ("", "")
            self._link.key = pgschema.lock_key("calls", database, schema)
            pgschema.migrate(db, self.where, pgschema.lock_key("schema", database, schema))

        self._link.setup(open_journal)

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        if not wait:
            raise Busy(f"the team journal {self.where} is reached over the network")

        def body(db: pglink.Connection) -> tuple[Record, str]:
            found = pgquery.check(db, new, rules, inserting=True)
            verdict = _judged(db, new, rules, found)
            if verdict is not None:
                raise Refused(verdict)
            assert found.next_id is not None
            fields = {
                f.name: getattr(new, f.name) for f in dataclasses.fields(Record) if hasattr(new, f.name)
            }
            fresh = Record(id=found.next_id, outcome="pending", **fields)
            previous = found.previous or chain.GENESIS
            (link,) = chain.relink(previous, [_as_stored(fresh)])
            # Sent with the COMMIT, unanswered: the check's one round trip, then this one; one
            # statement with the head (a CTE), as each statement costs the client CPU.
            db.execute(
                INSERT_PENDING,
                [
                    json.dumps([found.next_id, link]),
                    found.next_id,
                    link,
                    *(getattr(new, name) for name in INSERTED),
                ],
            )
            return fresh, previous

        fresh, previous = self._link.write(body, "written")
        with self._lock:
            self._begun[fresh.id] = (fresh, previous)
        return fresh.id

    def judge(self, new: NewCall, rules: Rules) -> Verdict:
        return self._link.read(lambda db: _verdict(db, new, rules))

    def sent_to(self, recipient: str, kind: Kind) -> bool:
        found = self._link.read(lambda db: db.execute(SENT_TO, (recipient, kind)).fetchone())
        return bool(found and found[0])

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        if not wait:
            raise Busy(f"the team journal {self.where} is reached over the network")

        with self._lock:
            begun = self._begun.pop(record_id, None)
        if begun is not None and self._finished_newest(record_id, finish, when, *begun):
            return

        def body(db: pglink.Connection) -> None:
            before = db.execute(
                "SELECT (SELECT chain FROM calls WHERE id < %s ORDER BY id DESC LIMIT 1), "
                "(SELECT value FROM meta WHERE key = 'anchor')",
                (record_id,),
            )
            rows = db.execute(
                "WITH changed AS (UPDATE calls SET outcome = %s, message_id = %s, parts = COALESCE(%s, parts), "  # noqa: S608
                "price_eur = COALESCE(%s, price_eur), detail = %s, finished = %s WHERE id = %s "
                f"RETURNING {FIELDS}) SELECT * FROM (SELECT {FIELDS} FROM changed UNION ALL "
                f"SELECT {FIELDS} FROM calls WHERE id > %s) later ORDER BY id",
                (
                    finish.outcome,
                    finish.message_id,
                    finish.parts,
                    finish.price_eur,
                    finish.detail,
                    when,
                    record_id,
                    record_id,
                ),
            )
            previous, anchor = before.fetchone() or (None, None)
            _relink(db, previous or anchor or chain.GENESIS, rows.fetchall())

        self._link.write(body, "written")

    def _finished_newest(
        self, record_id: int, finish: Finish, when: float, begun: Record, previous: str
    ) -> bool:
        """``finish`` in one round trip for the usual case: the record is still the journal's
        newest and still follows ``previous`` (the chain it was begun after), so its new chain is
        known here.  False (nothing changed) when another record came after it or the one before
        it changed: then every later chain must be read and recomputed."""
        done = dataclasses.replace(
            begun,
            outcome=finish.outcome,
            message_id=finish.message_id,
            parts=begun.parts if finish.parts is None else finish.parts,
            price_eur=begun.price_eur if finish.price_eur is None else finish.price_eur,
            detail=finish.detail,
            finished=when,
        )
        (link,) = chain.relink(previous, [_as_stored(done)])
        args = (record_id, record_id, previous, chain.GENESIS)
        values = (done.outcome, done.message_id, finish.parts, finish.price_eur, done.detail, when, link)

        def body(db: pglink.Connection) -> Any:
            # Unanswered until the COMMIT's: one round trip.
            return db.execute(FINISH_NEWEST, (*args, *values, record_id, json.dumps([record_id, link])))

        counted = self._link.write(body, "written").fetchone()
        return bool(counted and counted[0])

    def records(self, since: float, *, outcomes: tuple[str, ...] | None = None) -> list[Record]:
        query = f"SELECT {FIELDS} FROM calls WHERE started >= %s"  # noqa: S608
        args: list[Any] = [since]
        if outcomes is not None:
            query += " AND outcome = ANY(%s)"
            args.append(list(outcomes))
        rows = self._link.read(
            lambda db: db.execute(query + " ORDER BY started DESC, id DESC", args).fetchall()
        )
        return [pgquery.record(r) for r in rows]

    def by_message_id(self, message_id: str) -> Record | None:
        query = f"SELECT {FIELDS} FROM calls WHERE message_id = %s ORDER BY started DESC, id DESC LIMIT 1"  # noqa: S608
        row = self._link.read(lambda db: db.execute(query, (message_id,)).fetchone())
        return None if row is None else pgquery.record(row)

    def prune(self, before: float) -> int:
        def body(db: pglink.Connection) -> int:
            last = db.execute(
                "SELECT chain FROM calls WHERE started < %s ORDER BY id DESC LIMIT 1", (before,)
            ).fetchone()
            deleted = (
                "WITH gone AS (DELETE FROM calls WHERE started < %s RETURNING id) SELECT count(*) FROM gone"
            )
            counted = db.execute(deleted, (before,)).fetchone()
            gone = int(counted[0]) if counted else 0
            if gone:
                anchor = str(last[0]) if last is not None and last[0] else None
                if anchor is not None:
                    _set(db, "anchor", anchor)
                rows = db.execute(f"SELECT {FIELDS} FROM calls ORDER BY id").fetchall()  # noqa: S608
                _relink(db, anchor or _meta(db, "anchor") or chain.GENESIS, rows)
                if not rows:
                    _set(db, "head", "null")  # as ``chain.rechain`` leaves an emptied journal
            return gone

        return self._link.write(body, "pruned")

    def set_optout(self, numbers: list[str], listed: bool, when: float) -> None:
        def body(db: pglink.Connection) -> None:
            with db.cursor() as cursor:
                if listed:
                    cursor.executemany(
                        "INSERT INTO optout (number, added) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        [(n, when) for n in numbers],
                    )
                else:
                    cursor.executemany("DELETE FROM optout WHERE number = %s", [(n,) for n in numbers])

        self._link.write(body, "written")

    def optouts(self) -> list[tuple[str, float]]:
        query = "SELECT number, added FROM optout ORDER BY number"
        rows = self._link.read(lambda db: db.execute(query).fetchall())
        return [(str(n), float(t)) for n, t in rows]

    def newest(self) -> float | None:
        found = self._link.read(lambda db: db.execute("SELECT MAX(started) FROM calls").fetchone())
        return None if found is None or found[0] is None else float(found[0])

    def chained(self, since: float) -> list[tuple[Record, str | None]]:
        query = f"SELECT {FIELDS}, chain FROM calls WHERE started >= %s ORDER BY id"  # noqa: S608
        rows = self._link.read(lambda db: db.execute(query, (since,)).fetchall())
        return [(pgquery.record(r[:-1]), r[-1]) for r in rows]

    def verify(self) -> tuple[chain.Finding | None, int]:
        def body(db: pglink.Connection) -> tuple[chain.Finding | None, int]:
            rows = db.execute(f"SELECT {FIELDS}, chain FROM calls ORDER BY id").fetchall()  # noqa: S608
            return chain.check(rows, _meta(db, "anchor"), _meta(db, "head")), len(rows)

        return self._link.write(body, "read", lock=False, snapshot=True)

    def facts(self) -> StoreFacts:
        def body(db: pglink.Connection) -> StoreFacts:
            now = db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            return StoreFacts(self.where, pgschema.version(db), None if now is None else float(now[0]))

        return self._link.read(body)

    def close(self) -> None:
        self._link.close()


def _verdict(db: pglink.Connection, new: NewCall, rules: Rules | None) -> Verdict:
    """``begin``'s check: one statement counted by PostgreSQL (and the duplicate's row, if any)."""
    return _judged(db, new, rules, pgquery.check(db, new, rules))


def _judged(db: pglink.Connection, new: NewCall, rules: Rules | None, found: pgquery.Check) -> Verdict:
    jumped = clock_check(found.newest, new.started)
    if jumped is not None or rules is None:
        return jumped
    earlier = pgquery.fetch(db, found.duplicate) if found.duplicate is not None else None
    return decide(new, found.window(earlier), rules) or _capped(new, rules, found)


def _capped(new: NewCall, rules: Rules, found: pgquery.Check) -> Breach | None:
    """The opt-out list and the policy's caps, read in the same statement as the limits."""
    if new.tool == "send_sms" and new.recipient and found.listed:
        return opted_out(new.recipient)
    if rules.policy is None or found.usage is None:
        return None
    return counted_breach(rules.policy, new.price_eur, found.usage)


def _as_stored(record: Record) -> tuple[Any, ...]:
    """``record``'s fields as PostgreSQL gives them back (a price given as 1 reads as 1.0), so the
    chain computed before the row is read again is the chain ``verify`` recomputes from it."""
    values = {name: getattr(record, name) for name in COLUMNS}  # flat: no deep copies (asdict's)
    for name, value in values.items():
        if value is not None and name in _FLOATS:
            values[name] = float(value)
        elif value is not None and name in _INTS:
            values[name] = int(value)
    return tuple(values.values())


def _relink(db: Any, previous: str, rows: list[tuple[Any, ...]]) -> None:
    """Store the chains of ``rows`` (by id, from the record after ``previous``'s) and, when there
    are any, the head (the last of them: every row from one id on is given)."""
    links = chain.relink(previous, rows)
    if rows:
        with db.cursor() as cursor:
            cursor.executemany(
                "UPDATE calls SET chain = %s WHERE id = %s",
                [(c, r[0]) for c, r in zip(links, rows, strict=True)],
            )
        _set(db, "head", json.dumps([rows[-1][0], links[-1]]))


def _meta(db: Any, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set(db: Any, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )
