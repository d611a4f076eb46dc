"""What the policy's caps count (``Usage``), from SQLite or from records. Pure but for the query.

Only records that may have gone out count, of the tools billed per number (``counted_with``)
and of the new call's kind: per recipient in the last hour and 24 hours, and everything in the
calendar month (local time) of the new call. A record with no price counts in the month's EUR at
the highest price per part known, never as €0 (as the daily EUR limit counts it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from vertex_stdio.vertexsms.journal.records import DAY, MAY_HAVE_GONE, NewCall, Record, counted_with
from vertex_stdio.vertexsms.policy import Usage

if TYPE_CHECKING:  # loaded with the SQLite store, not by every server that may never send
    import sqlite3

HOUR = 3600.0
# A record's parts (at least 1: a lookup, a PIN SMS) price its share when it has no price.
PARTS = "MAX(COALESCE(parts, 1), 1)"


def month_start(now: float) -> float:
    """The start of ``now``'s calendar month in local time."""
    local = datetime.fromtimestamp(now).astimezone()
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def usage_sql(db: sqlite3.Connection, new: NewCall) -> Usage:
    """``Usage`` summed by SQLite inside the caller's transaction."""
    tools = sorted(counted_with(new.tool))
    month = month_start(new.started)
    day, hour = new.started - DAY, new.started - HOUR
    row = db.execute(
        "SELECT COALESCE(SUM(recipient IS ? AND started >= ?), 0), "  # noqa: S608
        "COALESCE(SUM(recipient IS ? AND started >= ?), 0), COALESCE(SUM(started >= ?), 0), "
        "COALESCE(SUM(CASE WHEN started >= ? THEN price_eur END), 0), "
        f"COALESCE(SUM(CASE WHEN started >= ? AND price_eur IS NULL THEN {PARTS} END), 0), "
        f"COALESCE(MAX(CASE WHEN started >= ? THEN price_eur / {PARTS} END), 0) FROM calls "
        f"WHERE tool IN ({', '.join('?' for _ in tools)}) AND kind = ? AND started >= ? "
        "AND outcome IN ('pending', 'sent', 'unknown')",
        (
            new.recipient,
            day,
            new.recipient,
            hour,
            month,
            month,
            month,
            month,
            *tools,
            new.kind,
            min(day, month),
        ),
    ).fetchone()
    eur = float(row[3]) + int(row[4]) * max(float(row[5]), _rate(new))
    return Usage(int(row[0]), int(row[1]), int(row[2]), eur)


def usage_of(records: Iterable[Record], new: NewCall) -> Usage:
    """``Usage`` from records (what a store without queries does)."""
    tools = counted_with(new.tool)
    live = [r for r in records if r.tool in tools and r.kind == new.kind and r.outcome in MAY_HAVE_GONE]
    month = month_start(new.started)
    mine = [r for r in live if r.recipient == new.recipient]
    in_month = [r for r in live if r.started >= month]
    return Usage(
        recipient_day=sum(1 for r in mine if r.started >= new.started - DAY),
        recipient_hour=sum(1 for r in mine if r.started >= new.started - HOUR),
        month_messages=len(in_month),
        month_eur=_month_eur(in_month, new),
    )


def _rate(new: NewCall) -> float:
    """The new call's price per part (0 when unknown)."""
    return (new.price_eur or 0.0) / max(new.parts or 1, 1)


def _month_eur(records: list[Record], new: NewCall) -> float:
    """The month's EUR: a record with no price is never €0; it counts at the highest price per part
    known (the month's priced records and the new call's), as the daily EUR limit counts it."""
    priced = [r.price_eur / max(r.parts or 1, 1) for r in records if r.price_eur is not None]
    unpriced_parts = sum(max(r.parts or 1, 1) for r in records if r.price_eur is None)
    return sum(r.price_eur or 0.0 for r in records) + unpriced_parts * max([*priced, _rate(new)])
