"""What the policy's caps count (``Usage``), from SQLite or from records. Pure but for the query.

Only records that may have gone out count, of the tools billed per number (``counted_with``)
and of the new call's kind: per recipient in the last hour and 24 hours, and everything in the
calendar month (local time) of the new call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from vertex_stdio.vertexsms.journal.records import DAY, MAY_HAVE_GONE, NewCall, Record, counted_with
from vertex_stdio.vertexsms.policy import Usage

HOUR = 3600.0


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
        "COALESCE(SUM(CASE WHEN started >= ? THEN price_eur END), 0) FROM calls "
        f"WHERE tool IN ({', '.join('?' for _ in tools)}) AND kind = ? AND started >= ? "
        "AND outcome IN ('pending', 'sent', 'unknown')",
        (new.recipient, day, new.recipient, hour, month, month, *tools, new.kind, min(day, month)),
    ).fetchone()
    return Usage(int(row[0]), int(row[1]), int(row[2]), float(row[3]))


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
        month_eur=sum(r.price_eur or 0.0 for r in in_month),
    )
