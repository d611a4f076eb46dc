"""The team journal's schema on a real PostgreSQL server: a journal at an older version is
brought up to date on open, its records and audit chain intact; the counts ``begin`` makes are
served by an index (read from it alone, not from the table).  Slow: the server is a child process."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from postgres import Postgres

from vertex_stdio.vertexsms.journal import pgquery, pgschema
from vertex_stdio.vertexsms.journal.pgstore import SENT_TO, PgStore
from vertex_stdio.vertexsms.journal.records import DAY, Finish, NewCall, Rules
from vertex_stdio.vertexsms.policy import parse

pytestmark = pytest.mark.slow

T0 = 1_800_000_000.0


def call(at: float, n: int, kind: str = "real") -> NewCall:
    return NewCall(
        tool="send_sms",
        kind=kind,  # type: ignore[arg-type]
        started=at,
        recipient=f"+370600{n % 500:05d}",
        sender="ACME",
        digest=str(n),
        parts=1 + n % 2,
        price_eur=None if n % 7 == 0 else 0.05,
    )


def test_a_version_1_journal_is_migrated_on_open_with_its_chain(postgres: Postgres) -> None:
    url = postgres.fresh_database("v1")
    store = PgStore(url, password=postgres.password)
    ids = [store.begin(call(T0 + i, i), None) for i in range(3)]
    store.finish(ids[1], Finish("sent", message_id="m-1"), T0 + 5)
    store.close()
    with psycopg.connect(url, password=postgres.password, autocommit=True) as db:  # back to version 1
        db.execute("DROP INDEX calls_sent_to")
        db.execute("UPDATE schema_version SET version = 1")
    store = PgStore(url, password=postgres.password)
    try:
        assert store.facts().schema_version == pgschema.SCHEMA_VERSION == 2
        assert store.verify() == (None, 3)
        assert store.sent_to("+37060000001", "real")
    finally:
        store.close()
    with psycopg.connect(url, password=postgres.password) as db:
        names = {r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'calls'")}
        assert "calls_sent_to" in names
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]


class Capture:
    """Stands in for the connection to catch the one statement ``pgquery.check`` sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def execute(self, sql: str, args: Any = None) -> Any:
        self.sent.append((sql, args))
        return self

    def fetchone(self) -> tuple[Any, ...]:
        return (0,) * 16


def test_the_counts_and_the_new_recipient_question_are_served_by_indexes(postgres: Postgres) -> None:
    """90 days of a busy team's calls (20 000, two kinds): the plan of ``begin``'s one check
    statement reads the day's and the month's calls, the duplicate and the opt-out list through
    indexes, and so does ``sent_to``'s; neither scans the whole table."""
    url = postgres.fresh_database("plan")
    PgStore(url, password=postgres.password).close()  # the schema
    with psycopg.connect(url, password=postgres.password, autocommit=True) as db:
        db.execute(
            "INSERT INTO calls (tool, kind, started, outcome, recipient, sender, digest, parts, price_eur) "
            "SELECT 'send_sms', CASE WHEN n %% 4 = 0 THEN 'sandbox' ELSE 'real' END, %s - n * 388.8, "
            "CASE WHEN n %% 10 = 0 THEN 'not_sent' ELSE 'sent' END, '+370600' || lpad((n %% 500)::text, 5, '0'), "
            "'ACME', md5(n::text), 1 + n %% 2, CASE WHEN n %% 7 = 0 THEN NULL ELSE 0.05 END "
            "FROM generate_series(1, 20000) AS n",
            (T0,),
        )
        db.execute("VACUUM ANALYZE calls")  # as autovacuum leaves a table: visibility map set
        policy = parse("max_messages_per_month = 5000\nmax_eur_per_month = 100\n", None, {})
        captured = Capture()
        new = call(T0 + 1, 3)
        pgquery.check(captured, new, Rules(max_eur_per_day=10.0, policy=policy))
        ((sql, args),) = captured.sent
        plan = "\n".join(r[0] for r in db.execute("EXPLAIN " + sql, args))
        assert "Seq Scan" not in plan, plan
        assert "using calls_started on calls" in plan, plan
        asked = "\n".join(r[0] for r in db.execute("EXPLAIN " + SENT_TO, ("+37060000003", "real")))
        assert "using calls_sent_to" in asked, asked
        found = db.execute(sql, args).fetchone()
    assert found is not None
    assert found[0] == pytest.approx(T0 - 388.8)  # the newest start
    day = [n for n in range(1, 20001) if n % 4 and n % 10 and T0 - n * 388.8 >= new.started - DAY]
    assert found[3] == len(day) > 100  # the day's real calls that may have gone out
