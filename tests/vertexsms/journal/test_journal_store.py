"""The journal's storage contract, which every store passes (memory, the SQLite file, and a real
PostgreSQL server: that leg is slow, the server being a child process), and the SQLite file's own
promises.  PostgreSQL's own promises are in ``test_journal_team.py``."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_stores import STORES, journal_store
from privileges import REPO, overrides_file_modes, rerun_without_override

from vertex_stdio.vertexsms.journal.records import (
    DAY,
    ClockBehind,
    Duplicate,
    Finish,
    NewCall,
    OverLimit,
    Rules,
    Unpriced,
    prune_before,
    totals,
)
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, Refused
from vertex_stdio.vertexsms.policy import Breach, parse

T0 = 1_800_000_000.0
RULES = Rules(duplicate_window=600, max_messages_per_day=3, max_recipients_per_day=2, max_eur_per_day=1.0)


def send(at: float, to: str = "+37060000001", text: str = "d1", **extra: object) -> NewCall:
    fields: dict[str, object] = {
        "recipient": to,
        "sender": "ACME",
        "digest": text,
        "preview": "hi",
        "price_eur": 0.01,  # priced, as every billable call is (RULES has a EUR limit)
    }
    fields.update(extra)
    return NewCall(tool="send_sms", kind="real", started=at, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalStore]:
    with journal_store(request, tmp_path, "contract") as made:
        yield made


def test_begin_records_pending_and_finish_records_the_outcome(store: JournalStore) -> None:
    """A call is pending until finished; finishing keeps what it knew and adds the outcome."""
    rid = store.begin(send(T0, parts=2, price_eur=0.1), RULES)
    (pending,) = store.records(T0 - 1)
    assert (pending.id, pending.outcome, pending.parts) == (rid, "pending", 2)
    store.finish(rid, Finish("sent", message_id="m-1", parts=3), T0 + 1)
    (done,) = store.records(T0 - 1)
    assert (done.outcome, done.message_id, done.parts, done.price_eur, done.finished) == (
        "sent",
        "m-1",
        3,
        0.1,
        T0 + 1,
    )
    assert store.by_message_id("m-1") == done
    assert store.by_message_id("m-2") is None


def test_duplicate_inside_the_window_is_refused_and_outside_is_not(store: JournalStore) -> None:
    """Same recipient, sender and text: refused up to the window's last second, accepted after it."""
    first = store.begin(send(T0), RULES)
    store.finish(first, Finish("sent", message_id="m-1"), T0)
    with pytest.raises(Refused) as refused:
        store.begin(send(T0 + 600), RULES)
    assert isinstance(refused.value.verdict, Duplicate)
    assert refused.value.verdict.earlier.message_id == "m-1"
    store.begin(send(T0 + 600.5), RULES)  # just outside the window
    assert len(store.records(0)) == 2


def test_pending_and_unknown_count_as_duplicates_but_not_sent_does_not(store: JournalStore) -> None:
    """Only an earlier send that may have gone out blocks an identical one."""
    a = store.begin(send(T0, text="a"), RULES)
    with pytest.raises(Refused):
        store.begin(send(T0 + 1, text="a"), RULES)  # still pending
    store.finish(a, Finish("unknown"), T0 + 2)
    with pytest.raises(Refused):
        store.begin(send(T0 + 3, text="a"), RULES)
    b = store.begin(send(T0, text="b", recipient="+37060000001"), RULES)
    store.finish(b, Finish("not_sent"), T0 + 1)
    store.begin(send(T0 + 4, text="b"), RULES)  # nothing went out: a retry is fine


def test_allow_duplicate_and_a_zero_window_skip_the_guard(store: JournalStore) -> None:
    """``allow_duplicate`` and ``duplicate_window=0`` both let an identical send through."""
    store.begin(send(T0), RULES)
    store.begin(send(T0 + 1, allow_duplicate=True), RULES)
    store.begin(send(T0 + 2), Rules(duplicate_window=0))
    assert len(store.records(0)) == 3


@pytest.mark.parametrize(
    ("rules", "sends", "setting"),
    [
        (
            Rules(duplicate_window=0, max_messages_per_day=3),
            ["+1", "+1", "+1"],
            "VERTEXSMS_MAX_MESSAGES_PER_DAY",
        ),
        (
            Rules(duplicate_window=0, max_recipients_per_day=2),
            ["+1", "+2"],
            "VERTEXSMS_MAX_RECIPIENTS_PER_DAY",
        ),
        (Rules(duplicate_window=0, max_eur_per_day=0.3), ["+1", "+1", "+1"], "VERTEXSMS_MAX_EUR_PER_DAY"),
    ],
    ids=["messages", "recipients", "eur"],
)
def test_each_limit_holds_at_its_edge_and_frees_after_24_hours(
    store: JournalStore, rules: Rules, sends: list[str], setting: str
) -> None:
    """Up to the limit passes; one more is refused naming the setting; a day later it passes again."""
    for i, to in enumerate(sends):
        store.begin(send(T0 + i, to=to, text=str(i), price_eur=0.1), rules)
    with pytest.raises(Refused) as refused:
        store.begin(send(T0 + 10, to="+3", text="x", price_eur=0.1), rules)
    verdict = refused.value.verdict
    assert isinstance(verdict, OverLimit)
    assert verdict.setting == setting
    store.begin(send(T0 + 24 * 3600 + 1, to="+3", text="x", price_eur=0.1), rules)


def test_the_same_recipient_again_is_not_a_new_recipient(store: JournalStore) -> None:
    """The recipients limit counts distinct numbers."""
    rules = Rules(duplicate_window=0, max_recipients_per_day=1)
    store.begin(send(T0, to="+1", text="a"), rules)
    store.begin(send(T0 + 1, to="+1", text="b"), rules)
    with pytest.raises(Refused):
        store.begin(send(T0 + 2, to="+2", text="c"), rules)


def test_kinds_are_counted_apart(store: JournalStore) -> None:
    """Sandbox and test sends neither block nor count against real ones."""
    rules = Rules(max_messages_per_day=1)
    store.begin(NewCall(tool="send_sms", kind="sandbox", started=T0, recipient="+1", digest="a"), rules)
    store.begin(NewCall(tool="send_sms", kind="real", started=T0, recipient="+1", digest="a"), rules)
    store.begin(NewCall(tool="send_sms", kind="test", started=T0, recipient="+1", digest="a"), rules)
    assert totals(store.records(0), "real", T0 + 1).messages == 1


def test_records_filter_and_prune(store: JournalStore) -> None:
    """``records`` is newest first and filters outcomes; ``prune`` forgets old ones only."""
    old = store.begin(send(T0 - 100 * 86400, text="old"), None)
    new = store.begin(send(T0, text="new"), None)
    store.finish(new, Finish("unknown"), T0)
    assert [r.id for r in store.records(0)] == [new, old]
    assert [r.id for r in store.records(0, outcomes=("unknown",))] == [new]
    assert store.prune(T0 - 90 * 86400) == 1
    assert [r.id for r in store.records(0)] == [new]


def test_a_call_dated_before_the_newest_record_beyond_the_skew_is_refused(store: JournalStore) -> None:
    """A clock more than five minutes behind the journal cannot record a call (guarded or not);
    within five minutes it can; ``newest`` is the latest start (None when empty)."""
    assert store.newest() is None
    store.begin(send(T0, text="a"), RULES)
    with pytest.raises(Refused) as refused:
        store.begin(send(T0 - 301, text="b"), None)
    assert refused.value.verdict == ClockBehind(newest=T0, started=T0 - 301)
    store.begin(send(T0 - 299, text="c"), RULES)
    assert store.newest() == T0
    assert len(store.records(0)) == 2


@pytest.mark.parametrize(
    ("newest", "now", "before"),
    [(None, T0, None), (T0, T0, T0 - 90 * DAY), (T0, T0 + 100 * DAY, T0 - 90 * DAY), (T0, T0 - 301, None)],
)
def test_pruning_is_measured_from_the_newest_record(
    newest: float | None, now: float, before: float | None
) -> None:
    assert prune_before(newest, now, 90 * DAY) == before


# --- the SQLite file ----------------------------------------------------------------------


def test_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    """The directory is 0700, the file 0600, and the database in WAL mode."""
    path = tmp_path / "state" / "journal.sqlite3"
    SqliteStore(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not a database says so, naming the file."""
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalStoreError, match="damaged") as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(overrides_file_modes(), reason="root writes read-only files")
def test_an_unwritable_file_refuses_to_record(tmp_path: Path) -> None:
    """A read-only journal cannot take a pending record: it is refused when opened, naming the
    file (this never ran on a CI that runs as root, where it was skipped; it expected the
    refusal at ``begin``)."""
    path = tmp_path / "journal.sqlite3"
    SqliteStore(path).close()
    for leftover in (tmp_path / "journal.sqlite3-wal", tmp_path / "journal.sqlite3-shm"):
        leftover.unlink(missing_ok=True)
    path.chmod(0o400)
    try:
        with pytest.raises(JournalStoreError, match="cannot be created or opened") as caught:
            SqliteStore(path)
    finally:
        path.chmod(0o600)
    assert str(path) in str(caught.value)


@pytest.mark.slow
@pytest.mark.skipif(not overrides_file_modes(), reason="the test above runs as this user")
def test_an_unwritable_file_refuses_to_record_as_root() -> None:
    """The test above, run as root without root's override of file modes (its twin for root)."""
    rerun_without_override(f"{Path(__file__).relative_to(REPO)}::test_an_unwritable_file_refuses_to_record")


def test_a_journal_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    """Its directory is a file: opening fails with the path and the reason, not a crash."""
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(JournalStoreError, match="cannot be created or opened"):
        SqliteStore(blocker / "journal.sqlite3")


def _race(path: str, start: float, results: multiprocessing.Queue[str]) -> None:  # type: ignore[type-arg]
    store = SqliteStore(Path(path))
    try:
        store.begin(send(start), RULES)
        results.put("sent")
    except Refused:
        results.put("refused")
    finally:
        store.close()


@pytest.mark.slow  # eight processes
def test_processes_racing_the_same_send_let_exactly_one_through(tmp_path: Path) -> None:
    """Eight processes begin the identical send at once: one is recorded, seven are refused."""
    path = str(tmp_path / "journal.sqlite3")
    SqliteStore(Path(path)).close()
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_race, args=(path, T0, results)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["refused"] * 7 + ["sent"]
    assert len(SqliteStore(Path(path)).records(0)) == 1


def test_doctor_reports_the_journal(tmp_path: Path) -> None:
    """doctor: ok before the first call, warn on an unknown outcome (pointing at history), fail when damaged."""
    from vertex_stdio.core.launcher import launcher
    from vertex_stdio.desktop.journal_check import check_journal
    from vertex_stdio.vertexsms.settings import Settings

    path = tmp_path / "journal.sqlite3"
    assert check_journal(Settings(), path, T0).status == "ok"
    store = SqliteStore(path)
    store.finish(store.begin(send(T0 - 60), None), Finish("unknown"), T0 - 59)
    store.close()
    warned = check_journal(Settings(), path, T0)
    assert (warned.status, warned.fix) == (
        "warn",
        f"see them and how to check each: {launcher()} history --pending",
    )
    assert "1 of 100 messages" in warned.detail
    path.write_bytes(b"not a database" * 300)
    failed = check_journal(Settings(), path, T0)
    assert failed.status == "fail"
    assert "mv" in (failed.fix or "")


@pytest.mark.parametrize("price", [None, 0.0])
def test_an_unknown_or_zero_price_is_refused_under_a_eur_limit(
    store: JournalStore, price: float | None
) -> None:
    """No price, or €0 ("unknown", not free), is refused while a EUR limit is set, and goes without one."""
    with pytest.raises(Refused) as refused:
        store.begin(send(T0, price_eur=price), RULES)
    assert isinstance(refused.value.verdict, Unpriced)
    store.begin(send(T0, price_eur=price), Rules(max_eur_per_day=None))
    assert len(store.records(0)) == 1


def test_unpriced_records_count_at_the_highest_price_per_part(store: JournalStore) -> None:
    """Records with no price count their parts at the highest price per part known, never €0."""
    free = Rules(duplicate_window=0, max_eur_per_day=None)
    store.begin(send(T0, text="a", price_eur=None, parts=3), free)
    store.begin(send(T0 + 1, text="b", price_eur=0.2, parts=2), free)  # 0.10 a part
    rules = Rules(duplicate_window=0, max_eur_per_day=0.55)
    with pytest.raises(Refused) as refused:  # 0.2 + 3 x 0.10 + 0.06 > 0.55
        store.begin(send(T0 + 2, text="c", price_eur=0.06, parts=1), rules)
    verdict = refused.value.verdict
    assert isinstance(verdict, OverLimit)
    assert verdict.count == pytest.approx(0.5)
    store.begin(send(T0 + 3, text="d", price_eur=0.05, parts=1), rules)
    assert totals(store.records(0), "real", T0 + 4).eur == pytest.approx(0.55)


def test_the_opt_out_list_is_kept_and_refuses_a_send_inside_begin(store: JournalStore) -> None:
    """Numbers go on and off the list (adding twice keeps the first date); a send_sms to a listed
    number is refused by ``begin`` itself with the opt-out breach, other tools are not."""
    store.set_optout(["+37060000002", "+37060000001"], True, T0)
    store.set_optout(["+37060000001"], True, T0 + 5)
    assert store.optouts() == [("+37060000001", T0), ("+37060000002", T0)]
    with pytest.raises(Refused) as refused:
        store.begin(send(T0, to="+37060000002"), RULES)
    assert isinstance(refused.value.verdict, Breach)
    assert refused.value.verdict.rule == "optout"
    store.begin(
        NewCall(tool="lookup_hlr", kind="real", started=T0, recipient="+37060000002", price_eur=0.01), RULES
    )
    store.set_optout(["+37060000002"], False, T0 + 6)
    assert store.optouts() == [("+37060000001", T0)]
    store.begin(send(T0 + 7, to="+37060000002"), RULES)


@pytest.mark.parametrize(
    ("rules_text", "rule"),
    [
        ("max_per_recipient_per_hour = 2\nmax_per_recipient_per_day = 0\n", "max_per_recipient_per_hour"),
        ("max_per_recipient_per_hour = 0\nmax_per_recipient_per_day = 2\n", "max_per_recipient_per_day"),
        (
            "max_per_recipient_per_hour = 0\nmax_per_recipient_per_day = 0\nmax_messages_per_month = 2\n",
            "max_messages_per_month",
        ),
        (
            "max_per_recipient_per_hour = 0\nmax_per_recipient_per_day = 0\nmax_eur_per_month = 0.25\n",
            "max_eur_per_month",
        ),
    ],
    ids=["per-hour", "per-day", "month-messages", "month-eur"],
)
def test_the_policy_caps_are_counted_in_begin(store: JournalStore, rules_text: str, rule: str) -> None:
    """Each counted cap of the policy: two sends (0.1 EUR each) go, the third is refused naming the
    rule; a not_sent record does not count."""
    rules = Rules(duplicate_window=0, max_eur_per_day=None, policy=parse(rules_text, None, {}))
    for i in range(2):
        store.begin(send(T0 + i, text=str(i), price_eur=0.1), rules)
    gone = store.begin(send(T0 + 2, text="x", price_eur=0.1), None)
    store.finish(gone, Finish("not_sent"), T0 + 2)
    with pytest.raises(Refused) as refused:
        store.begin(send(T0 + 3, text="y", price_eur=0.1), rules)
    verdict = refused.value.verdict
    assert isinstance(verdict, Breach)
    assert verdict.rule == rule


def test_the_audit_chain_holds_through_begin_finish_and_prune(store: JournalStore) -> None:
    """Every write keeps the chain whole: ``verify`` finds nothing and counts the records;
    ``chained`` lists them oldest first, each with a distinct SHA-256 chain; ``facts`` names the
    store without a password and its schema version."""
    assert store.verify() == (None, 0)
    first = store.begin(send(T0 - 100 * DAY, text="old"), None)
    ids = [first] + [store.begin(send(T0 + i, text=str(i)), None) for i in range(3)]
    store.finish(ids[2], Finish("sent", message_id="m-2", parts=2, price_eur=0.2), T0 + 5)
    assert store.verify() == (None, 4)
    assert store.prune(T0 - 90 * DAY) == 1
    assert store.verify() == (None, 3)
    listed = store.chained(0.0)
    assert [r.id for r, _ in listed] == ids[1:]
    chains = [c for _, c in listed]
    assert all(c is not None and len(c) == 64 for c in chains)
    assert len(set(chains)) == 3
    assert [r.id for r, _ in store.chained(T0 + 1)] == ids[2:]
    assert listed[1][0].message_id == "m-2"
    facts = store.facts()
    assert facts.schema_version >= 1
    assert facts.where == store.where
