"""The team journal's audit chain when machines interleave: ``finish`` takes one round trip
while its record is still the newest and follows the chain it was begun after, and recomputes
every later chain otherwise.  Either way the chain holds, and an edit by hand is caught.  Two
stores on one real PostgreSQL database stand for two machines (slow: the server is a child)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from postgres import Postgres

from vertex_stdio.vertexsms.journal.pgstore import PgStore
from vertex_stdio.vertexsms.journal.records import Finish, NewCall

pytestmark = pytest.mark.slow

T0 = 1_800_000_000.0


def call(n: int) -> NewCall:
    return NewCall(tool="send_sms", kind="real", started=T0 + n, recipient="+37060000001", digest=str(n))


@pytest.fixture
def two(postgres: Postgres) -> Iterator[tuple[PgStore, PgStore, str]]:
    """Two stores ("machines") on one fresh database, and its URL with the password."""
    url = postgres.fresh_database("chain")
    a, b = PgStore(url, password=postgres.password), PgStore(url, password=postgres.password)
    try:
        yield a, b, postgres.url_with_password(url.rsplit("/", 1)[1])
    finally:
        a.close()
        b.close()


def quick(store: PgStore, seen: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """Note in ``seen`` whether each ``finish`` of ``store`` took the one-round-trip way."""
    took = store._finished_newest

    def noted(*args: Any) -> bool:
        seen.append(took(*args))
        return seen[-1]

    monkeypatch.setattr(store, "_finished_newest", noted)


def test_interleaved_begins_and_finishes_keep_the_chain(
    two: tuple[PgStore, PgStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = two
    seen: list[bool] = []
    quick(a, seen, monkeypatch)
    quick(b, seen, monkeypatch)
    first = a.begin(call(1), None)
    second = b.begin(call(2), None)
    a.finish(first, Finish("sent", message_id="m-1", parts=2), T0 + 3)  # not the newest
    assert a.verify() == (None, 2)
    b.finish(second, Finish("sent", message_id="m-2"), T0 + 4)  # newest, but what it follows changed
    assert a.verify() == (None, 2)
    third = b.begin(call(5), None)
    b.finish(third, Finish("unknown", detail="interrupted"), T0 + 6)  # newest, unchanged before it
    fourth = a.begin(call(7), None)
    a.prune(T0 + 2)  # the record before it goes: the anchor is the chain it followed
    a.finish(fourth, Finish("not_sent"), T0 + 8)
    assert b.verify() == (None, 3)
    kept = {r.id: r for r in b.records(0)}
    assert (kept[second].message_id, kept[third].outcome, kept[fourth].outcome) == (
        "m-2",
        "unknown",
        "not_sent",
    )
    assert kept[second].finished == T0 + 4
    assert seen == [False, False, True, True]  # the quick way only where it is right


def test_an_edit_by_hand_between_begin_and_finish_is_caught(two: tuple[PgStore, PgStore, str]) -> None:
    """A record changed behind the store's back while its call runs is not blessed by its finish."""
    a, _, url = two
    begun = a.begin(call(1), None)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("UPDATE calls SET recipient = '+37060000009' WHERE id = %s", (begun,))
    a.finish(begun, Finish("sent", message_id="m-1"), T0 + 2)
    finding, count = a.verify()
    assert count == 1
    assert finding is not None
    assert finding.what == f"record #{begun} was changed (its fields no longer match its chain)"
