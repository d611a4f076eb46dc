"""Every record names the machine (host name) and the OS account that made the call, in every store;
a journal made before those columns gains them on open and keeps its audit chain."""

from __future__ import annotations

import getpass
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_stores import STORES, journal_store

from vertex_stdio.vertexsms.journal import CallFacts, Rules, SendJournal
from vertex_stdio.vertexsms.journal.records import Finish, NewCall
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.store import JournalStore

T0 = 1_800_000_000.0


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalStore]:
    with journal_store(request, tmp_path, "origin") as made:
        yield made


def test_machine_and_user_round_trip_and_are_chained(store: JournalStore) -> None:
    new = NewCall(
        tool="send_sms", kind="real", started=T0, recipient="+37060000001", machine="ci-7", os_user="ana"
    )
    rid = store.begin(new, None)
    store.finish(rid, Finish("sent", message_id="m-1"), T0 + 1)
    (record,) = store.records(0)
    assert (record.machine, record.os_user) == ("ci-7", "ana")
    ((chained, link),) = store.chained(0)
    assert (chained.machine, chained.os_user, link is not None) == ("ci-7", "ana", True)
    assert store.verify() == (None, 1)


@pytest.mark.anyio
async def test_a_billable_call_records_this_machine_and_account(tmp_path: Path) -> None:
    journal = SendJournal.at(tmp_path / "journal.sqlite3", rules=Rules())
    async with journal.billable(
        "send_sms", CallFacts("+37060000001", "ACME", "hello", 1), guard=True
    ) as ticket:
        ticket.sent("m-1", parts=1)
    store = await journal.store()
    (record,) = store.records(0)
    await journal.aclose()
    assert record.machine == socket.gethostname()
    assert record.machine
    assert record.os_user == getpass.getuser()
    assert record.os_user


OLD_SCHEMA = """
CREATE TABLE calls (id INTEGER PRIMARY KEY, tool TEXT NOT NULL, kind TEXT NOT NULL, started REAL NOT NULL,
    outcome TEXT NOT NULL, recipient TEXT, sender TEXT, digest TEXT, preview TEXT, parts INTEGER,
    price_eur REAL, message_id TEXT, detail TEXT, finished REAL, pid INTEGER, client TEXT);
INSERT INTO calls (tool, kind, started, outcome, recipient, parts) VALUES
    ('send_sms', 'real', 1800000000.0, 'sent', '+37060000001', 1);
"""


def test_a_journal_from_before_gains_the_columns_and_its_chain_holds(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    store = SqliteStore(path)
    try:
        (old,) = store.records(0)
        assert (old.machine, old.os_user) == ("", "")
        assert store.verify() == (None, 1)
        new = NewCall(
            tool="send_sms", kind="real", started=T0 + 5, recipient="+37060000002", machine="m", os_user="u"
        )
        store.begin(new, None)
        assert [(r.machine, r.os_user) for r in store.records(0)] == [("m", "u"), ("", "")]
        assert store.verify() == (None, 2)
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        columns = {row[1]: row for row in db.execute("PRAGMA table_info(calls)")}
    assert columns["machine"][3] == 1
    assert columns["os_user"][3] == 1
