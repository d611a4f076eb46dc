"""The journal's storage: one interface, and its in-memory twin.

Every store (this memory one, SQLite's ``sqlite.py``, PostgreSQL's ``pgstore.py``) passes one
contract suite, ``tests/vertexsms/journal/test_journal_store.py``.  ``begin`` is the one
operation that must be atomic across processes (and, for PostgreSQL, machines): the check
against recent records and the ``pending`` insert happen together, so two processes racing
with the same send cannot both pass the guard.  Every write keeps the audit chain
(``chain.py``) whole.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from dataclasses import dataclass
from typing import Protocol

from vertex_stdio.vertexsms.journal import chain
from vertex_stdio.vertexsms.journal.records import (
    DAY,
    Finish,
    Kind,
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
    """The store cannot be opened, read or written; ``str()`` says why, in plain words.

    ``transient``: the store could not be reached (a database down or cut off), which may pass
    by itself, so a call refused for it may be tried again later (nothing was sent)."""

    transient = False
    advice: str | None = (
        None  # what a person does about it, when the store knows better than ``where.remedy``
    )


class Unreachable(JournalStoreError):
    """A team database that could not be reached, or was lost before anything was committed."""

    transient = True


class Rejected(JournalStoreError):
    """A team database that answered but refused this machine (a wrong or missing password, an
    unknown role or database, a TLS or ``pg_hba.conf`` refusal): nothing changes by trying again
    until a person fixes it, as ``advice`` says."""

    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message)
        self.advice = advice


class Busy(JournalStoreError):
    """The store is locked (by this process or another) and the call asked not to wait."""


class Refused(Exception):
    """``begin`` did not record the call: the guard or a limit said no (``verdict``)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(repr(verdict))
        self.verdict = verdict


@dataclass(frozen=True)
class StoreFacts:
    """What ``doctor`` says of a store: ``where`` (a path, or a URL without its password), its
    schema version, and the database server's clock (None: the store has no clock of its own)."""

    where: str
    schema_version: int
    server_now: float | None = None


class JournalStore(Protocol):
    """Where journal records live.  Methods are blocking and thread-safe; every failure to reach
    or use the storage is a ``JournalStoreError`` whose text holds no password."""

    where: str  # a path, or a URL without its password: safe to print

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

    def judge(self, new: NewCall, rules: Rules) -> Verdict:
        """What ``begin(new, rules)`` would say now (None: it would record the call), recording
        nothing: the clock, the guard, the limits, the opt-out list and the policy's counted caps,
        counted by the store (in SQL where it has it), not by loading records.  A read-only hint
        (another process may write in between); the check that counts is ``begin``'s."""
        ...

    def sent_to(self, recipient: str, kind: Kind) -> bool:
        """Whether the journal holds a ``sent`` call of ``kind`` to ``recipient`` (ever)."""
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

    def chained(self, since: float) -> list[tuple[Record, str | None]]:
        """Records started at or after ``since``, oldest (lowest id) first, each with its chain."""
        ...

    def verify(self) -> tuple[chain.Finding | None, int]:
        """The audit chain checked in one snapshot (the first break, or None) and the record count."""
        ...

    def facts(self) -> StoreFacts:
        """Where the store is, its schema version, and its server's clock."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """A ``JournalStore`` in this process's memory (for tests and as the contract's twin)."""

    where = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, Record] = {}
        self._chains: dict[int, str] = {}
        self._anchor: str | None = None
        self._head: str | None = None
        self._ids = itertools.count(1)
        self._optout: dict[str, float] = {}

    def begin(self, new: NewCall, rules: Rules | None, *, wait: bool = True) -> int:
        with self._lock:
            verdict = self._verdict(new, rules)
            if verdict is not None:
                raise Refused(verdict)
            record_id = next(self._ids)
            fields = {
                f.name: getattr(new, f.name) for f in dataclasses.fields(Record) if hasattr(new, f.name)
            }
            self._rows[record_id] = Record(id=record_id, outcome="pending", **fields)
            self._rechain(record_id)
            return record_id

    def judge(self, new: NewCall, rules: Rules) -> Verdict:
        with self._lock:
            return self._verdict(new, rules)

    def sent_to(self, recipient: str, kind: Kind) -> bool:
        with self._lock:
            return any(
                r.recipient == recipient and r.kind == kind and r.outcome == "sent"
                for r in self._rows.values()
            )

    def _verdict(self, new: NewCall, rules: Rules | None) -> Verdict:
        """``begin``'s check (the caller holds the lock)."""
        jumped = clock_check(max((r.started for r in self._rows.values()), default=None), new.started)
        if jumped is not None or rules is None:
            return jumped
        recent = [r for r in self._rows.values() if r.started >= new.started - DAY]
        verdict = decide(new, summarize(new, recent, rules), rules)
        if verdict is None and new.tool == "send_sms" and new.recipient in self._optout:
            verdict = opted_out(new.recipient or "")
        if verdict is None and rules.policy is not None:
            verdict = counted_breach(rules.policy, new.price_eur, usage_of(self._rows.values(), new))
        return verdict

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
            self._rechain(record_id)

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
            old = sorted(k for k, r in self._rows.items() if r.started < before)
            if old:
                self._anchor = self._chains[old[-1]]
            for k in old:
                del self._rows[k], self._chains[k]
            if old:
                self._rechain(0)
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

    def chained(self, since: float) -> list[tuple[Record, str | None]]:
        with self._lock:
            return [
                (self._rows[k], self._chains.get(k))
                for k in sorted(self._rows)
                if self._rows[k].started >= since
            ]

    def verify(self) -> tuple[chain.Finding | None, int]:
        with self._lock:
            rows = [(*dataclasses.astuple(self._rows[k]), self._chains.get(k)) for k in sorted(self._rows)]
            return chain.check(rows, self._anchor, self._head), len(rows)

    def facts(self) -> StoreFacts:
        return StoreFacts(self.where, chain.SCHEMA_VERSION)

    def close(self) -> None:
        return None

    def _rechain(self, from_id: int) -> None:
        """``chain.rechain`` for the rows in memory (the caller holds the lock)."""
        ids = sorted(self._rows)
        before = [k for k in ids if k < from_id]
        previous = self._chains[before[-1]] if before else (self._anchor or chain.GENESIS)
        after = [k for k in ids if k >= from_id]
        links = chain.relink(previous, [dataclasses.astuple(self._rows[k]) for k in after])
        self._chains.update(zip(after, links, strict=True))
        self._head = json.dumps([ids[-1], self._chains[ids[-1]]] if ids else None)


def prune_old(store: JournalStore, now: float, retention: float) -> None:
    """Forget what is older than the retention, measured from the journal's own newest record."""
    before = prune_before(store.newest(), now, retention)
    if before is not None:
        store.prune(before)
