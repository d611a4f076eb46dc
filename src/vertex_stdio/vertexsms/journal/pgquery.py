"""What the duplicate guard, the daily limits and the policy's caps count, summed by PostgreSQL
inside ``begin``'s transaction (no rows loaded): the same rules as ``sqlite.py``'s ``_window``
and ``usage.py``'s ``usage_sql``, in PostgreSQL's words.  Parameters are typed (``%s::text``):
a NULL recipient must still compare, as SQLite's ``IS`` does, with ``IS NOT DISTINCT FROM``.
"""

from __future__ import annotations

from typing import Any

from vertex_stdio.vertexsms.journal.chain import FIELDS
from vertex_stdio.vertexsms.journal.records import DAY, NewCall, Record, Rules, Window, counted_with
from vertex_stdio.vertexsms.journal.usage import HOUR, month_start
from vertex_stdio.vertexsms.policy import Usage

LIVE = "outcome IN ('pending', 'sent', 'unknown')"
# A record's parts (at least 1: a lookup, a PIN SMS) price its share when it has no price.
PARTS = "GREATEST(COALESCE(parts, 1), 1)"
SAME = "IS NOT DISTINCT FROM %s::text"


def record(row: tuple[Any, ...]) -> Record:
    return Record(*row)


def window(conn: Any, new: NewCall, rules: Rules) -> Window:
    """The guard's and limits' view of the last 24 hours of ``new``'s kind."""
    duplicate = None
    if rules.duplicate_window > 0 and not new.allow_duplicate:
        row = conn.execute(
            f"SELECT {FIELDS} FROM calls WHERE digest {SAME} AND recipient {SAME} AND sender {SAME} "  # noqa: S608
            f"AND tool = %s AND kind = %s AND started >= %s AND {LIVE} ORDER BY started DESC, id DESC LIMIT 1",
            (new.digest, new.recipient, new.sender, new.tool, new.kind, new.started - rules.duplicate_window),
        ).fetchone()
        duplicate = None if row is None else record(row)
    sums = conn.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT recipient), COALESCE(SUM(price_eur), 0), "  # noqa: S608
        f"COALESCE(bool_or(recipient {SAME}), false), "
        f"COALESCE(SUM({PARTS}) FILTER (WHERE price_eur IS NULL), 0), "
        f"COALESCE(MAX(price_eur / {PARTS}), 0) FROM calls "
        f"WHERE tool = ANY(%s) AND kind = %s AND started >= %s AND {LIVE}",
        (new.recipient, sorted(counted_with(new.tool)), new.kind, new.started - DAY),
    ).fetchone()
    messages, recipients, eur, known, unpriced, top = sums
    return Window(
        duplicate, int(messages), int(recipients), bool(known), float(eur), int(unpriced), float(top)
    )


def usage(conn: Any, new: NewCall) -> Usage:
    """The policy's counted caps (per recipient per hour and day, the calendar month)."""
    month = month_start(new.started)
    day, hour = new.started - DAY, new.started - HOUR
    row = conn.execute(
        f"SELECT COUNT(*) FILTER (WHERE recipient {SAME} AND started >= %s), "  # noqa: S608
        f"COUNT(*) FILTER (WHERE recipient {SAME} AND started >= %s), "
        "COUNT(*) FILTER (WHERE started >= %s), "
        "COALESCE(SUM(price_eur) FILTER (WHERE started >= %s), 0), "
        f"COALESCE(SUM({PARTS}) FILTER (WHERE started >= %s AND price_eur IS NULL), 0), "
        f"COALESCE(MAX(price_eur / {PARTS}) FILTER (WHERE started >= %s), 0) FROM calls "
        f"WHERE tool = ANY(%s) AND kind = %s AND started >= %s AND {LIVE}",
        (
            new.recipient,
            day,
            new.recipient,
            hour,
            month,
            month,
            month,
            month,
            sorted(counted_with(new.tool)),
            new.kind,
            min(day, month),
        ),
    ).fetchone()
    rate = (new.price_eur or 0.0) / max(new.parts or 1, 1)
    eur = float(row[3]) + int(row[4]) * max(float(row[5]), rate)
    return Usage(int(row[0]), int(row[1]), int(row[2]), eur)
