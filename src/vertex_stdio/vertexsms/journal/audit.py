"""``history --verify`` (the audit chain checked: the first record changed, removed or inserted)
and ``history --export csv|jsonl [--since WHEN]`` (the records for an accountant: never the
text, only its SHA-256 digest and the masked preview the journal keeps).  Both read the journal
where the policy puts it (a team's PostgreSQL database, else the SQLite file) through the store
interface, each in one snapshot while other processes may be writing."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import astuple
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE
from vertex_stdio.vertexsms.journal.chain import FIELDS
from vertex_stdio.vertexsms.journal.history import local, parse_since
from vertex_stdio.vertexsms.journal.reading import Place, place_of
from vertex_stdio.vertexsms.journal.records import Record
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.journal.where import remedy

COLUMNS = [*FIELDS.split(", "), "chain"]


def run_verify(journal: Path | Place, *, out: TextIO, err: TextIO) -> int:
    """Check the journal's chain; exit 1 naming the first record that breaks it."""
    place = place_of(journal)
    if not place.made:
        err.write(f"vertex-stdio history: there is no send journal at {place.where} yet.\n")
        return EXIT_OK
    try:
        with place.opened() as store:
            assert store is not None
            finding, count = store.verify()
    except JournalStoreError as exc:
        err.write(f"vertex-stdio history: {exc}. To fix: {remedy(place.where, exc)}.\n")
        return EXIT_FIXABLE
    if finding is not None:
        out.write(f"The send journal {place.where} was edited: {finding.what}.\n")
        return EXIT_FIXABLE
    out.write(
        f"The send journal {place.where} holds together: {count} records, each chained to the one before.\n"
    )
    return EXIT_OK


def run_export(journal: Path | Place, fmt: str, since: str | None, *, out: TextIO, err: TextIO) -> int:
    """Write the records started since ``since`` (all without it), oldest first, as CSV or JSON
    lines: every field (the machine and OS user that made the call too) and its chain."""
    place = place_of(journal)
    try:
        start = parse_since(since, time.time()) if since else 0.0
    except ValueError as exc:
        err.write(f"vertex-stdio history: {exc}\n")
        return EXIT_USAGE
    try:
        with place.opened() as store:
            found = [] if store is None else store.chained(start)
    except JournalStoreError as exc:
        err.write(f"vertex-stdio history: {exc}. To fix: {remedy(place.where, exc)}.\n")
        return EXIT_FIXABLE
    rows = [_row(record, chain) for record, chain in found]
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return EXIT_OK
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS[:4], "time", *COLUMNS[4:]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return EXIT_OK


def _row(record: Record, chain: str | None) -> dict[str, Any]:
    """A record for export: its local time beside the Unix one, the text only as digest and preview."""
    row = dict(zip(COLUMNS, [*astuple(record), chain], strict=True))
    return {**row, "time": local(record.started)}
