"""The journal's storage: a small interface, and its in-memory twin.

Every store passes ``tests/test_journal_store.py``.  ``begin`` is the one operation that must
be atomic across processes: the check against recent records and the ``pending`` insert
happen together, so two processes racing with the same send cannot both pass the guard.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from typing import Protocol

from vertex_stdio.vertexsms.journal.records import (
    DAY,
    Finish,
    NewCall,
    Record,
    Rules,
    Verdict,
    clock_check,
    decide,
    prune_before,
    summarize,
)
from vertex_stdio.vertexsms.journal.usage import usage_of
from vertex_stdio.vertexsms.policy import counted_breach, opted_out


class JournalStoreError(Exception):
    """The store cannot be opened, read or written; ``str()`` says why, in plain words."""


class Busy(JournalStoreError):
    """The store is locked (by this process or another) and the call asked not to wait."""


class Refused(Exception):
    """``begin`` did not record the call: the guard or a limit said no (``verdict``)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(repr(verdict))
        self.verdict = verdict


class JournalStore(Protocol):
    """Where journal records live.  Methods are blocking and thread-safe."""

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        """Check ``new`` against ``rules`` (None: no check) and record it ``pending``; its id.

        Raises ``Refused`` when the guard or a limit says no, or (whatever ``rules``) when the
        journal's newest record lies in ``new.started``'s future beyond the skew (``ClockBehind``),
        nothing recorded; with ``wait=False``, ``Busy`` instead of waiting for a lock.
        """
        ...

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        """Record how the call ended (``wait`` as for ``begin``)."""
        ...

    def records(self, since: float, *, outcomes: tuple[str, ...] | None = None) -> list[Record]:
        """Records started at or after ``since``, newest first (only ``outcomes`` when given)."""
        ...

    def by_message_id(self, message_id: str) -> Record | None:
        """The newest record carrying ``message_id``."""
        ...

    def prune(self, before: float) -> int:
        """Forget records started before ``before``; how many went."""
        ...

    def set_optout(self, numbers: list[str], listed: bool, when: float) -> None:
        """Put ``numbers`` (E.164) on the opt-out list (``listed``) or take them off it."""
        ...

    def optouts(self) -> list[tuple[str, float]]:
        """The opt-out list: (number, when it was added), by number."""
        ...

    def newest(self) -> float | None:
        """The latest ``started`` in the journal (None when it is empty)."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """A ``JournalStore`` in this process's memory (for tests and as the contract's twin)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, Record] = {}
        self._ids = itertools.count(1)
        self._optout: dict[str, float] = {}

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        with self._lock:
            newest = max((r.started for r in self._rows.values()), default=None)
            jumped = clock_check(newest, new.started)
            if jumped is not None:
                raise Refused(jumped)
            if rules is not None:
                recent = [r for r in self._rows.values() if r.started >= new.started - DAY]
                verdict = decide(new, summarize(new, recent, rules), rules)
                if verdict is None and new.tool == "send_sms" and new.recipient in self._optout:
                    verdict = opted_out(new.recipient or "")
                if verdict is None and rules.policy is not None:
                    verdict = counted_breach(rules.policy, new.price_eur, usage_of(self._rows.values(), new))
                if verdict is not None:
                    raise Refused(verdict)
            record_id = next(self._ids)
            fields = {
                f.name: getattr(new, f.name) for f in dataclasses.fields(Record) if hasattr(new, f.name)
            }
            self._rows[record_id] = Record(id=record_id, outcome="pending", **fields)
            return record_id

    def finish(self, record_id: int, finish: Finish, when: float, *, wait: bool = True) -> None:
        with self._lock:
            old = self._rows.get(record_id)
            if old is None:
                return
            self._rows[record_id] = dataclasses.replace(
                old,
                outcome=finish.outcome,
                message_id=finish.message_id,
                parts=finish.parts if finish.parts is not None else old.parts,
                price_eur=finish.price_eur if finish.price_eur is not None else old.price_eur,
                detail=finish.detail,
                finished=when,
            )

    def records(self, since: float, *, outcomes: tuple[str, ...] | None = None) -> list[Record]:
        with self._lock:
            rows = [r for r in self._rows.values() if r.started >= since]
        rows = [r for r in rows if outcomes is None or r.outcome in outcomes]
        return sorted(rows, key=lambda r: (r.started, r.id), reverse=True)

    def by_message_id(self, message_id: str) -> Record | None:
        found = [r for r in self.records(0.0) if r.message_id == message_id]
        return found[0] if found else None

    def prune(self, before: float) -> int:
        with self._lock:
            old = [k for k, r in self._rows.items() if r.started < before]
            for k in old:
                del self._rows[k]
            return len(old)

    def set_optout(self, numbers: list[str], listed: bool, when: float) -> None:
        with self._lock:
            for number in numbers:
                if listed:
                    self._optout.setdefault(number, when)
                else:
                    self._optout.pop(number, None)

    def optouts(self) -> list[tuple[str, float]]:
        with self._lock:
            return sorted(self._optout.items())

    def newest(self) -> float | None:
        with self._lock:
            return max((r.started for r in self._rows.values()), default=None)

    def close(self) -> None:
        return None


def prune_old(store: JournalStore, now: float, retention: float) -> None:
    """Forget what is older than the retention, measured from the journal's own newest record."""
    before = prune_before(store.newest(), now, retention)
    if before is not None:
        store.prune(before)
