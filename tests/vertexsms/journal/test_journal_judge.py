"""The journal's read-only questions, part of the store contract (memory, SQLite, and a real
PostgreSQL server: that leg is slow): ``judge`` says what ``begin`` would say, counted by the
store (the hint before a person is asked to confirm a send), and records nothing; ``sent_to``
says whether a recipient was ever sent to (whether a send is to a new recipient)."""

from __future__ import annotations

import pytest
from test_journal_store import RULES, T0, send, store  # noqa: F401 - ``store`` is the contract's fixture

from vertex_stdio.vertexsms.journal.policing import needs_yes
from vertex_stdio.vertexsms.journal.records import (
    DAY,
    ClockBehind,
    Duplicate,
    Finish,
    NewCall,
    OverLimit,
    Rules,
    Unpriced,
    Verdict,
)
from vertex_stdio.vertexsms.journal.safety import CallFacts, SendJournal
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, Refused
from vertex_stdio.vertexsms.policy import Breach, parse


def agreed(journal: JournalStore, new: NewCall, rules: Rules) -> Verdict:
    """``judge``'s verdict, after checking that it recorded nothing and that ``begin`` (run right
    after it) refuses with the same verdict, or records the call when ``judge`` said None."""
    before = journal.records(0)
    verdict = journal.judge(new, rules)
    assert journal.records(0) == before, "judge must record nothing"
    if verdict is None:
        journal.begin(new, rules)
        return None
    with pytest.raises(Refused) as refused:
        journal.begin(new, rules)
    assert refused.value.verdict == verdict
    return verdict


def name(verdict: Verdict) -> str:
    if isinstance(verdict, OverLimit):
        return verdict.setting
    if isinstance(verdict, Breach):
        return verdict.rule
    return type(verdict).__name__


def test_judge_says_what_begin_would_and_records_nothing(store: JournalStore) -> None:  # noqa: F811
    """A day of calls under the daily limits, the duplicate guard, the opt-out list and the
    policy's caps: at every step ``judge`` and ``begin`` agree.  Refused and not_sent records
    count for nothing; an unpriced record counts at the highest price per part known."""
    policy = parse(
        "max_per_recipient_per_hour = 2\nmax_messages_per_month = 4\nmax_eur_per_month = 0.9\n", None, {}
    )
    rules = Rules(duplicate_window=600, max_messages_per_day=4, max_recipients_per_day=3, policy=policy)
    store.set_optout(["+37060000009"], True, T0)
    seen = [name(agreed(store, send(T0, text="a"), rules))]  # goes
    seen.append(name(agreed(store, send(T0 + 1, text="a"), rules)))  # the same again: pending
    seen.append(name(agreed(store, send(T0 + 2, to="+37060000009", text="b"), rules)))  # opted out
    seen.append(name(agreed(store, send(T0 + 3, text="c"), rules)))  # goes: 2 to +…001 this hour
    seen.append(name(agreed(store, send(T0 + 4, text="d"), rules)))  # a third this hour
    nope = store.begin(send(T0 + 5, to="+37060000002", text="e", price_eur=0.3), None)
    store.finish(nope, Finish("not_sent"), T0 + 5)  # counts for nothing
    gone = store.begin(send(T0 + 5, to="+37060000002", text="f", price_eur=0.3), None)
    store.finish(gone, Finish("refused"), T0 + 5)  # nor does this
    seen.append(name(agreed(store, send(T0 + 6, to="+37060000002", text="g", price_eur=None), Rules())))
    # 0.01 + 0.01 + one unpriced part at 0.2 (the new call's rate, the highest known) + 0.2 > 0.4
    tight = Rules(duplicate_window=0, max_eur_per_day=0.4)
    seen.append(name(agreed(store, send(T0 + 7, to="+37060000003", text="h", price_eur=0.2), tight)))
    seen.append(name(agreed(store, send(T0 + 8, to="+37060000003", text="i", price_eur=0.15), tight)))
    seen.append(name(agreed(store, send(T0 + 9, to="+37060000004", text="j"), rules)))  # 5th today
    # A day later the daily counts are empty, the month's 4 are not.
    seen.append(name(agreed(store, send(T0 + DAY + 10, to="+37060000004", text="k"), rules)))
    eur = Rules(duplicate_window=0, max_eur_per_day=1.0)
    seen.append(name(agreed(store, send(T0 + 20, text="l", price_eur=None), eur)))  # no price: refused
    seen.append(name(agreed(store, send(T0 - 400, text="m"), rules)))  # a clock far behind
    assert seen == [
        "NoneType",
        "Duplicate",
        "optout",
        "NoneType",
        "max_per_recipient_per_hour",
        "NoneType",
        "VERTEXSMS_MAX_EUR_PER_DAY",
        "NoneType",
        "VERTEXSMS_MAX_MESSAGES_PER_DAY",
        "max_messages_per_month",
        "Unpriced",
        "ClockBehind",
    ]
    assert [r.outcome for r in store.records(0)].count("pending") == 4


def test_judge_without_records_or_limits_lets_a_call_through(store: JournalStore) -> None:  # noqa: F811
    assert store.judge(send(T0), RULES) is None
    assert store.judge(send(T0, price_eur=None), Rules(max_eur_per_day=None)) is None
    assert isinstance(store.judge(send(T0, price_eur=None), RULES), Unpriced)
    assert store.records(0) == []


def test_judge_finds_the_newest_duplicate_and_the_clock(store: JournalStore) -> None:  # noqa: F811
    first = store.begin(send(T0), None)
    store.finish(first, Finish("sent", message_id="m-1"), T0)
    verdict = store.judge(send(T0 + 60), RULES)
    assert isinstance(verdict, Duplicate)
    assert (verdict.earlier.id, verdict.earlier.message_id) == (first, "m-1")
    assert store.judge(send(T0 + 60, allow_duplicate=True), RULES) is None
    assert isinstance(store.judge(send(T0 - 301, text="other"), RULES), ClockBehind)


@pytest.mark.parametrize("kind", ["real", "sandbox"])
def test_sent_to_is_a_sent_record_of_the_kind(store: JournalStore, kind: str) -> None:  # noqa: F811
    """Only a ``sent`` record of the same kind makes a recipient known (pending, unknown and
    not_sent do not: nothing is known to have reached them)."""
    for n, outcome in enumerate(("sent", "pending", "unknown", "not_sent")):
        call = NewCall(tool="send_sms", kind="real", started=T0 + n, recipient=f"+3706000000{n}")
        record = store.begin(call, None)
        if outcome != "pending":
            store.finish(record, Finish(outcome), T0 + n)  # type: ignore[arg-type]
    known = [store.sent_to(f"+3706000000{n}", kind) for n in range(5)]  # type: ignore[arg-type]
    assert known == [kind == "real", False, False, False, False]


@pytest.mark.anyio
async def test_a_journal_that_cannot_be_read_makes_every_recipient_new() -> None:
    """``needs_yes`` when the journal cannot be opened: the recipient counts as new, so the
    person is asked (the safe side); nothing escapes as an unexpected error."""

    def broken() -> JournalStore:
        raise JournalStoreError("the team journal postgresql://vertex@db/journal could not be opened (down)")

    policy = parse("confirm_new_recipients = true\nconfirm_above_eur = 10\n", None, {})
    journal = SendJournal(broken, rules=Rules(policy=policy))
    assert await needs_yes(journal, CallFacts("+37060000001", "ACME", "hi", 1, 0.05))
