"""``vertex-stdio history``: the send journal for people (a table) and scripts (``--json``).

Newest first, times in local time, sandbox and test-mode records marked, and the last 24
hours' totals against the limits.  ``--pending`` lists the calls whose outcome is unknown
(or still pending) with the step that finds out what happened.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE
from vertex_stdio.core.launcher import command
from vertex_stdio.vertexsms.journal.reading import Place, place_of
from vertex_stdio.vertexsms.journal.records import Record, Totals, totals
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.journal.where import remedy
from vertex_stdio.vertexsms.settings import Settings

_SPAN = re.compile(r"^(\d+)\s*([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
UNRESOLVED = ("unknown", "pending")


def parse_since(text: str, now: float) -> float:
    """``30m``, ``24h``, ``7d``, ``2w``, or a local date/time (``2026-12-01``, ``2026-12-01T09:30``)."""
    span = _SPAN.match(text.strip().lower())
    if span:
        return now - int(span.group(1)) * _UNIT[span.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since takes a span like 24h, 7d or 30m, or a date like 2026-12-01; got {text!r}"
        ) from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def local(when: float | None) -> str:
    if when is None:
        return ""
    return datetime.fromtimestamp(when).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def next_step(record: Record) -> str:
    """What a person does to learn an unresolved call's outcome."""
    if record.message_id and record.tool == "send_sms":
        where = " --sandbox" if record.kind == "sandbox" else ""  # only the sandbox knows its ids
        return command(f"call get_sms_status{where} --arg message_id={shlex.quote(record.message_id)}")
    who = f" to {record.recipient}" if record.recipient else ""
    return (
        f"no message id: look in the VertexSMS dashboard for {record.tool}{who} at "
        f"{local(record.started)} before repeating it"
    )


def limits_of(settings: Settings) -> dict[str, float | None]:
    """Each 24-hour limit; None where it is off."""
    return {
        "messages": settings.max_messages_per_day or None,
        "recipients": settings.max_recipients_per_day or None,
        "eur": settings.max_eur_per_day or None,
    }


def sent_by(record: Record) -> str:
    """``user@machine``: who made the call (a team's journal holds every machine's calls)."""
    if not (record.os_user or record.machine):
        return ""
    return f"{record.os_user or '?'}@{record.machine or '?'}"


def render_table(records: list[Record], out: TextIO) -> None:
    headers = ("TIME", "TOOL", "TO", "FROM", "OUTCOME", "PARTS", "EUR", "MESSAGE ID", "TEXT", "BY")
    rows = [
        (
            local(r.started),
            r.tool + ("" if r.kind == "real" else f" [{r.kind}]"),
            r.recipient or "",
            r.sender or "",
            r.outcome,
            "" if r.parts is None else str(r.parts),
            "" if r.price_eur is None else f"{r.price_eur:.4f}",
            r.message_id or "",
            r.preview or "",
            sent_by(r),
        )
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def render_totals(kind: str, day: Totals, limits: dict[str, float | None], out: TextIO) -> None:
    def of(value: float, limit: float | None, unit: str = "") -> str:
        return f"{value:g}{unit} of {limit:g}{unit}" if limit else f"{value:g}{unit} (no limit)"

    mark = "" if kind == "real" else f" [{kind}]"
    out.write(
        f"Last 24 h{mark}: {of(day.messages, limits['messages'])} messages, "
        f"{of(day.recipients, limits['recipients'])} recipients, {day.parts} parts, "
        f"{of(day.eur, limits['eur'], ' EUR')}"
        + (f"; {day.unknown} not yet known to have gone" if day.unknown else "")
        + (f"; {day.unpriced} with no price, counted at the highest price per part" if day.unpriced else "")
        + "\n"
    )


def run_history(
    settings: Settings,
    journal: Path | Place,
    *,
    as_json: bool,
    since: str | None,
    pending: bool,
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Print the journal (``journal``: where the policy puts it, or a SQLite file); exit 0, 1
    when it cannot be read, 2 for a bad ``--since``."""
    place = place_of(journal)
    now = clock()
    try:
        start = parse_since(since, now) if since else 0.0
    except ValueError as exc:
        err.write(f"vertex-stdio history: {exc}\n")
        return EXIT_USAGE
    try:
        records, day_records = _read(place, start, now, pending)
    except JournalStoreError as exc:
        err.write(f"vertex-stdio history: {exc}. To fix: {remedy(place.where, exc)}.\n")
        return EXIT_FIXABLE
    kinds = ["real", *sorted({r.kind for r in day_records} - {"real"})]
    limits = limits_of(settings)
    if as_json:
        body: dict[str, Any] = {
            "journal": place.where,
            "records": [_as_json(r) for r in records],
            "last_24h": {k: asdict(totals(day_records, k, now)) for k in kinds},
            "limits": limits,
        }
        out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    if pending:
        _render_pending(records, out)
    else:
        render_table(records, out) if records else out.write(f"No records in {place.where}.\n")
    for kind in kinds:
        render_totals(kind, totals(day_records, kind, now), limits, out)
    return EXIT_OK


def _read(place: Place, start: float, now: float, pending: bool) -> tuple[list[Record], list[Record]]:
    with place.opened() as store:
        if store is None:
            return [], []
        records = store.records(start, outcomes=UNRESOLVED if pending else None)
        return records, store.records(now - 86400)


def _render_pending(records: list[Record], out: TextIO) -> None:
    if not records:
        out.write("No call with an unknown outcome: every recorded call is known to have gone or not.\n")
        return
    out.write(f"{len(records)} call(s) whose outcome is not known. Do not repeat them before checking:\n")
    for r in records:
        kind = "" if r.kind == "real" else f" [{r.kind}]"
        by = f" by {sent_by(r)}" if sent_by(r) else ""
        out.write(f"- {local(r.started)} {r.tool}{kind} to {r.recipient or '?'} ({r.outcome}){by}\n")
        out.write(f"  next: {next_step(r)}\n")


def _as_json(record: Record) -> dict[str, Any]:
    body = asdict(record)
    body["time"] = datetime.fromtimestamp(record.started).astimezone().isoformat(timespec="seconds")
    body.pop("digest", None)
    if record.outcome in UNRESOLVED:
        body["next_step"] = next_step(record)
    return body
