"""What the duplicate guard, the daily limits and the policy's caps count, summed by PostgreSQL
inside ``begin``'s transaction (no rows loaded): the same rules as ``sqlite.py``'s ``_window``
and ``usage.py``'s ``usage_sql``, in PostgreSQL's words, asked in ONE statement (``check``:
one round trip).  Parameters are typed (``%s::text``): a NULL recipient must still compare, as
SQLite's ``IS`` does, with ``IS NOT DISTINCT FROM``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    # Asked only for an insert (``begin``): the id the record will have, and the chain it follows
    # (the newest record's, else the anchor; None: the journal never held a record).
    next_id: int | None = None
    previous: str | None = None

    def window(self, earlier: Record | None) -> Window:
        messages, recipients, eur, known, unpriced, top = self.sums
        return Window(
            earlier, int(messages), int(recipients), bool(known), float(eur), int(unpriced), float(top)
        )


# The id of the record about to be inserted and the chain it follows: read together with the
# check, under the journal's lock, so the insert needs no answer from the server.
FOR_INSERT = (
    "nextval(pg_get_serial_sequence('calls', 'id')), COALESCE((SELECT chain FROM calls "
    "ORDER BY id DESC LIMIT 1), (SELECT value FROM meta WHERE key = 'anchor')), "
)


def check(conn: Any, new: NewCall, rules: Rules | None, *, inserting: bool = False) -> Check:
    """Everything ``begin`` needs, in one statement; only the journal's newest start without
    rules.  ``inserting``: also the new record's id and the chain it follows (``Check.next_id``,
    ``Check.previous``; the id is used up even when the call is refused)."""
    extra = FOR_INSERT if inserting else ""
    if rules is None:
        row = conn.execute(f"SELECT {extra}(SELECT MAX(started) FROM calls)").fetchone()  # noqa: S608
        return _inserting(Check(row[-1]), row) if inserting else Check(row[0])
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
        f"SELECT {extra}(SELECT MAX(started) FROM calls), {duplicate}, "  # noqa: S608
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
    found = row[2:] if inserting else row
    usage = _usage_of(found[9:], new) if rules.policy is not None else None
    checked = Check(found[0], found[1], tuple(found[3:9]), bool(found[2]), usage)
    return _inserting(checked, row) if inserting else checked


def _inserting(checked: Check, row: tuple[Any, ...]) -> Check:
    return replace(checked, next_id=int(row[0]), previous=None if row[1] is None else str(row[1]))


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
