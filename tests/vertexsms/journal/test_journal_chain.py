"""The audit chain: a journal edited by hand names its first changed, removed or inserted record;
an older journal is chained on open; pruning keeps the chain; export never carries the text."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from vertex_stdio.vertexsms.journal.audit import run_export, run_verify
from vertex_stdio.vertexsms.journal.chain import verify
from vertex_stdio.vertexsms.journal.records import Finish, NewCall, digest, preview
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.sqlitefile import SCHEMA

TEXT = "Your code is 4815"


def _journal(path: Path, count: int = 5) -> None:
    store = SqliteStore(path)
    for i in range(count):
        new = NewCall(
            "send_sms",
            "real",
            1_800_000_000.0 + i,
            f"+3706000000{i}",
            "ACME",
            digest(TEXT),
            preview(TEXT),
            1,
            0.039,
        )
        record = store.begin(new, None)
        store.finish(record, Finish("sent", message_id=f"m{i}", parts=1), new.started + 1)
    store.close()


def _found(path: Path) -> str | None:
    db = sqlite3.connect(path)
    try:
        finding = verify(db)
    finally:
        db.close()
    return None if finding is None else finding.what


def _edit(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


def test_an_untouched_journal_holds(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    _journal(path)
    assert _found(path) is None
    out = io.StringIO()
    assert run_verify(path, out=out, err=io.StringIO()) == 0
    assert "5 records" in out.getvalue()


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("UPDATE calls SET price_eur = 0.001 WHERE id = 3", "record #3 was changed"),
        ("UPDATE calls SET outcome = 'not_sent' WHERE id = 1", "record #1 was changed"),
        ("DELETE FROM calls WHERE id = 2", "record #2 was removed"),
        ("DELETE FROM calls WHERE id = 5", "record #5 was removed"),
        (
            "INSERT INTO calls (id, tool, kind, started, outcome) VALUES (9, 'send_sms', 'real', 1800000009, 'sent')",
            "record #9 was inserted",
        ),
        ("UPDATE calls SET id = 7 WHERE id = 3", "record #3 was removed"),
    ],
)
def test_a_journal_edited_by_hand_names_the_first_record(tmp_path: Path, sql: str, named: str) -> None:
    path = tmp_path / "j.sqlite3"
    _journal(path)
    _edit(path, sql)
    found = _found(path)
    assert found is not None
    assert found.startswith(named), found
    out = io.StringIO()
    assert run_verify(path, out=out, err=io.StringIO()) == 1
    assert named in out.getvalue()


def test_an_inserted_record_between_two_is_named(tmp_path: Path) -> None:
    """A row slipped into a gap (ids 1, 2, [3 inserted], 4...): named as inserted, not as changed."""
    path = tmp_path / "j.sqlite3"
    _journal(path)
    _edit(path, "UPDATE calls SET id = id + 10 WHERE id >= 3")
    db = sqlite3.connect(path)
    from vertex_stdio.vertexsms.journal.chain import rechain

    rechain(db, 0)  # a legitimate gap (as a carried file can have) holds once chained
    db.commit()
    db.close()
    assert _found(path) is None
    _edit(
        path,
        "INSERT INTO calls (id, tool, kind, started, outcome, chain) VALUES (5, 'send_sms', 'real', 1, 'sent', 'x')",
    )
    assert _found(path) == "record #5 was inserted (the chain runs past it)"


def test_an_older_journal_is_chained_on_open(tmp_path: Path) -> None:
    """A schema-0 file (no chain column, user_version 0) with records: opened, every record chained."""
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    for i in range(3):
        db.execute(
            "INSERT INTO calls (tool, kind, started, outcome, recipient) VALUES ('send_sms', 'real', ?, 'sent', ?)",
            (1_800_000_000.0 + i, f"+3706000000{i}"),
        )
    db.commit()
    db.close()
    SqliteStore(path).close()
    assert _found(path) is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM calls WHERE chain IS NULL").fetchone()[0] == 0
    db.close()


def test_pruning_keeps_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    _journal(path)
    store = SqliteStore(path)
    assert store.prune(1_800_000_002.0) == 2
    store.close()
    assert _found(path) is None
    _edit(path, "UPDATE calls SET recipient = '+37069999999' WHERE id = 3")
    assert _found(path) == "record #3 was changed (its fields no longer match its chain)"


def test_export_writes_digest_and_preview_never_the_text(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    _journal(path)
    lines = io.StringIO()
    assert run_export(path, "jsonl", None, out=lines, err=io.StringIO()) == 0
    rows = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["digest"] == digest(TEXT)
    assert rows[0]["preview"] == "Your code is ••••"
    assert all(len(r["chain"]) == 64 for r in rows)
    table = io.StringIO()
    since = datetime.fromtimestamp(1_800_000_002.0).isoformat()  # local time, as a person types it
    assert run_export(path, "csv", since, out=table, err=io.StringIO()) == 0
    header, *body = table.getvalue().splitlines()
    assert header.startswith("id,tool,kind,started,time,outcome,recipient")
    assert [line.split(",")[0] for line in body] == ["3", "4", "5"]
    for text in (lines.getvalue(), table.getvalue()):
        assert TEXT not in text
        assert "4815" not in text
