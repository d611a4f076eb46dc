"""``history --verify`` (the audit chain checked: the first record changed, removed or inserted)
and ``history --export csv|jsonl [--since WHEN]`` (the records for an accountant: never the
text, only its SHA-256 digest and the masked preview the journal keeps)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE
from vertex_stdio.vertexsms.journal.chain import FIELDS, verify
from vertex_stdio.vertexsms.journal.history import local, parse_since
from vertex_stdio.vertexsms.journal.sqlitefile import BUSY_TIMEOUT, open_db, translated
from vertex_stdio.vertexsms.journal.store import JournalStoreError

COLUMNS = [*FIELDS.split(", "), "chain"]


def run_verify(path: Path, *, out: TextIO, err: TextIO) -> int:
    """Check the chain of the journal at ``path``; exit 1 naming the first record that breaks it."""
    if not path.exists():
        err.write(f"vertex-stdio history: there is no send journal at {path} yet.\n")
        return EXIT_OK
    try:
        db = open_db(path, BUSY_TIMEOUT)
        try:
            with translated(path):
                db.execute("BEGIN")  # one snapshot: other processes may be writing meanwhile
                finding = verify(db)
                count = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
                db.execute("ROLLBACK")
        finally:
            db.close()
    except JournalStoreError as exc:
        err.write(f"vertex-stdio history: {exc}\n")
        return EXIT_FIXABLE
    if finding is not None:
        out.write(f"The send journal {path} was edited: {finding.what}.\n")
        return EXIT_FIXABLE
    out.write(f"The send journal {path} holds together: {count} records, each chained to the one before.\n")
    return EXIT_OK


def run_export(path: Path, fmt: str, since: str | None, *, out: TextIO, err: TextIO) -> int:
    """Write the records started since ``since`` (all without it), oldest first, as CSV or JSON lines."""
    try:
        start = parse_since(since, time.time()) if since else 0.0
    except ValueError as exc:
        err.write(f"vertex-stdio history: {exc}\n")
        return EXIT_USAGE
    rows: list[dict[str, Any]] = []
    if path.exists():
        try:
            db = open_db(path, BUSY_TIMEOUT)
            try:
                with translated(path):
                    found = db.execute(
                        f"SELECT {FIELDS}, chain FROM calls WHERE started >= ? ORDER BY id",  # noqa: S608
                        (start,),
                    ).fetchall()
            finally:
                db.close()
        except JournalStoreError as exc:
            err.write(f"vertex-stdio history: {exc}\n")
            return EXIT_FIXABLE
        rows = [_row(dict(zip(COLUMNS, row, strict=True))) for row in found]
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return EXIT_OK
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS[:4], "time", *COLUMNS[4:]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return EXIT_OK


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A record for export: its local time beside the Unix one, the text only as digest and preview."""
    return {**row, "time": local(row["started"])}
