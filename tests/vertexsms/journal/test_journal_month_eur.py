"""The month's EUR for the policy's cap never counts a record with no price as €0."""

from __future__ import annotations

from pathlib import Path

import pytest

from vertex_stdio.vertexsms.journal.records import Finish, NewCall
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.store import MemoryStore
from vertex_stdio.vertexsms.journal.usage import usage_of, usage_sql

T0 = 1_800_000_000.0


def _send(at: float, price: float | None, parts: int) -> NewCall:
    return NewCall(
        tool="send_sms", kind="real", started=at, recipient="+37060000001", sender="ACME",
        digest=f"d{at}", preview="hi", parts=parts, price_eur=price,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_unpriced_record_counts_at_the_highest_price_per_part_known(kind: str, tmp_path: Path) -> None:
    """Two unpriced parts and one priced at €0.03 a part: the month holds €0.03 + 2 x €0.03, and
    a new call at €0.05 a part raises the unpriced parts' price to that (never €0)."""
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "j.sqlite3")
    try:
        for at, price, parts in ((T0, None, 2), (T0 + 10, 0.03, 1)):
            record = store.begin(_send(at, price, parts), None)
            store.finish(record, Finish("sent", message_id=f"m{at}", parts=parts, price_eur=price), at + 1)

        def month_eur(new: NewCall) -> float:
            if isinstance(store, SqliteStore):
                return usage_sql(store._db, new).month_eur
            return usage_of(store.records(0), new).month_eur

        assert month_eur(_send(T0 + 20, 0.01, 1)) == pytest.approx(0.03 + 2 * 0.03)
        assert month_eur(_send(T0 + 20, 0.10, 2)) == pytest.approx(0.03 + 2 * 0.05)
        assert month_eur(_send(T0 + 20, None, 1)) == pytest.approx(0.03 + 2 * 0.03)
    finally:
        store.close()
