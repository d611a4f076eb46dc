"""What the duplicate guard, the daily limits and the policy's caps count, summed by PostgreSQL
inside ``begin``'s transaction (no rows loaded): the same rules as ``sqlite.py``'s ``_window``
and ``usage.py``'s ``usage_sql``, in PostgreSQL's words, asked in ONE statement (``check``:
one round trip).  Parameters are typed (``%s::text``): a NULL recipient must still compare, as
SQLite's ``IS`` does, with ``IS NOT DISTINCT FROM``.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Check:
    """What ``begin`` judges a new call by: the journal's newest start, the newest identical
    record's id (None: none in the window, or the guard is off), the window's sums, whether
    the recipient is on the opt-out list, and the policy's counted caps (None: no policy)."""

    newest: float | None
    duplicate: int | None = None
    sums: tuple[Any, ...] = (0, 0, 0.0, False, 0, 0.0)
    listed: bool = False
    usage: Usage | None = None

    def window(self, earlier: Record | None) -> Window:
        messages, recipients, eur, known, unpriced, top = self.sums
        return Window(
            earlier, int(messages), int(recipients), bool(known), float(eur), int(unpriced), float(top)
        )


def check(conn: Any, new: NewCall, rules: Rules | None) -> Check:
    """Everything ``begin`` needs, in one statement; only the journal's newest start without rules."""
    if rules is None:
        return Check(conn.execute("SELECT MAX(started) FROM calls").fetchone()[0])
    guarded = rules.duplicate_window > 0 and not new.allow_duplicate
    duplicate = (
        f"(SELECT id FROM calls WHERE digest {SAME} AND recipient {SAME} AND sender {SAME} AND tool = %s "  # noqa: S608
        f"AND kind = %s AND started >= %s AND {LIVE} ORDER BY started DESC, id DESC LIMIT 1)"
        if guarded
        else "NULL"
    )
    args: list[Any] = (
        [new.digest, new.recipient, new.sender, new.tool, new.kind, new.started - rules.duplicate_window]
        if guarded
        else []
    )
    usage_sql, usage_args = _usage(new) if rules.policy is not None else ("SELECT", [])
    row = conn.execute(
        f"SELECT (SELECT MAX(started) FROM calls), {duplicate}, "  # noqa: S608
        "EXISTS (SELECT 1 FROM optout WHERE number = %s::text), w.*, u.* FROM ("
        f"SELECT COUNT(*), COUNT(DISTINCT recipient), COALESCE(SUM(price_eur), 0), "
        f"COALESCE(bool_or(recipient {SAME}), false), "
        f"COALESCE(SUM({PARTS}) FILTER (WHERE price_eur IS NULL), 0), "
        f"COALESCE(MAX(price_eur / {PARTS}), 0) FROM calls "
        f"WHERE tool = ANY(%s) AND kind = %s AND started >= %s AND {LIVE}) w, ({usage_sql}) u",
        [
            *args,
            new.recipient,
            new.recipient,
            sorted(counted_with(new.tool)),
            new.kind,
            new.started - DAY,
            *usage_args,
        ],
    ).fetchone()
    usage = _usage_of(row[9:], new) if rules.policy is not None else None
    return Check(row[0], row[1], tuple(row[3:9]), bool(row[2]), usage)


def fetch(conn: Any, record_id: int) -> Record | None:
    row = conn.execute(f"SELECT {FIELDS} FROM calls WHERE id = %s", (record_id,)).fetchone()  # noqa: S608
    return None if row is None else record(row)


def _usage(new: NewCall) -> tuple[str, list[Any]]:
    """The policy's counted caps as a sub-select (per recipient per hour and day, the month)."""
    month = month_start(new.started)
    day, hour = new.started - DAY, new.started - HOUR
    sql = (
        f"SELECT COUNT(*) FILTER (WHERE recipient {SAME} AND started >= %s), "  # noqa: S608
        f"COUNT(*) FILTER (WHERE recipient {SAME} AND started >= %s), "
        "COUNT(*) FILTER (WHERE started >= %s), "
        "COALESCE(SUM(price_eur) FILTER (WHERE started >= %s), 0), "
        f"COALESCE(SUM({PARTS}) FILTER (WHERE started >= %s AND price_eur IS NULL), 0), "
        f"COALESCE(MAX(price_eur / {PARTS}) FILTER (WHERE started >= %s), 0) FROM calls "
        f"WHERE tool = ANY(%s) AND kind = %s AND started >= %s AND {LIVE}"
    )
    args = [new.recipient, day, new.recipient, hour, month, month, month, month]
    return sql, [*args, sorted(counted_with(new.tool)), new.kind, min(day, month)]


def _usage_of(row: tuple[Any, ...], new: NewCall) -> Usage:
    rate = (new.price_eur or 0.0) / max(new.parts or 1, 1)
    eur = float(row[3]) + int(row[4]) * max(float(row[5]), rate)
    return Usage(int(row[0]), int(row[1]), int(row[2]), eur)
