"""``SendJournal``: the safety layer every billable or account-changing call passes through.

    async with journal.billable("send_sms", facts, guard=True) as ticket:
        ...                      # the one request to VertexSMS
        ticket.sent(message_id, parts=2)

Before the body runs, the call is checked (duplicate guard, spend limits) and recorded
``pending`` in one atomic step; the body then runs shielded from cancellation (bounded by
``grace``), and whatever it ends with (a result, an error, a cancellation, the process being
told to stop) is recorded as ``sent``, ``refused``, ``unknown`` or ``not_sent``, and logged
with its message id (never the text).  A journal that cannot be used refuses the call.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from vertex_stdio.core.errors import JournalUnavailable, VertexError
from vertex_stdio.vertexsms.journal import origin
from vertex_stdio.vertexsms.journal.lane import Lane
from vertex_stdio.vertexsms.journal.policing import check_static, refuse, static_refusal
from vertex_stdio.vertexsms.journal.records import (
    DAY,
    Finish,
    Kind,
    NewCall,
    Outcome,
    OverLimit,
    Record,
    Rules,
)
from vertex_stdio.vertexsms.journal.store import Busy, JournalStore, JournalStoreError, Refused, prune_old
from vertex_stdio.vertexsms.journal.verdicts import over, refusal, text_free_detail, unavailable
from vertex_stdio.vertexsms.policy import Breach

log = logging.getLogger(__name__)
T = TypeVar("T")

Opener = Callable[[], JournalStore]
_ERROR_OUTCOMES: dict[str, Outcome] = {
    "not_sent": "not_sent",
    "refused": "refused",
    "unknown": "unknown",
    "probably_done": "sent",
}


@dataclass(frozen=True)
class CallFacts:
    """What is recorded about a call before it is made (see ``NewCall``)."""

    recipient: str | None = None
    sender: str | None = None
    text: str | None = None
    parts: int | None = None
    price_eur: float | None = None
    client: str | None = None
    allow_duplicate: bool = False
    price_source: str | None = None


@dataclass
class Ticket:
    """The body's handle: say what came back with ``sent``; anything else is read from errors."""

    record_id: int
    finish: Finish | None = field(default=None)

    def sent(
        self, message_id: str | None, *, parts: int | None = None, price_eur: float | None = None
    ) -> None:
        self.finish = Finish("sent", message_id=message_id, parts=parts, price_eur=price_eur)


class SendJournal:
    """Checks, records and finishes billable calls in a ``JournalStore`` opened on first use."""

    def __init__(
        self,
        opener: Opener,
        *,
        kind: Kind = "real",
        rules: Rules | None = None,
        max_parts: int = 10,
        retention_days: int = 90,
        grace: float = 40.0,
        clock: Callable[[], float] = time.time,
        where: str = "the send journal",
    ) -> None:
        self._opener = opener
        self.kind: Kind = kind
        self.rules = rules or Rules()
        self.max_parts = max_parts
        self._retention = retention_days * DAY
        self._grace = grace
        self._clock = clock
        self._where = where
        self._store: JournalStore | None = None
        self._lock = anyio.Lock()
        self._lane = Lane()  # the store's writes that must wait, off the event loop
        self.in_flight = 0

    @classmethod
    def at(cls, path: Path, **kwargs: object) -> SendJournal:
        """A journal in the SQLite file at ``path``."""

        def opener() -> JournalStore:
            from vertex_stdio.vertexsms.journal.sqlite import SqliteStore

            return SqliteStore(path)

        return cls(opener, where=str(path), **kwargs)  # type: ignore[arg-type]

    def now(self) -> float:
        return self._clock()

    async def store(self) -> JournalStore:
        """The open store (opened, and pruned, on first use); ``JournalUnavailable`` if it cannot be."""
        async with self._lock:
            if self._store is None:
                try:
                    store = await anyio.to_thread.run_sync(self._opener)
                    await anyio.to_thread.run_sync(prune_old, store, self._clock(), self._retention)
                except JournalStoreError as exc:
                    raise unavailable(str(exc), self._where, exc.transient, exc.advice) from exc
                self._store = store
            return self._store

    def check_parts(self, parts: int) -> None:
        """``SpendLimit`` for a message longer than the parts limit (0 disables it)."""
        if self.max_parts and parts > self.max_parts:
            raise over(OverLimit("SMS parts per message", "VERTEXSMS_MAX_PARTS", parts, self.max_parts))

    @asynccontextmanager
    async def billable(self, tool: str, facts: CallFacts, *, guard: bool = False) -> AsyncIterator[Ticket]:
        """Record the call ``pending`` (after the guard and limits when ``guard``), run, finish it."""
        store = await self.store()
        new = _new_call(tool, self.kind, self._clock(), facts)
        if guard:
            await check_static(store, new, self.rules.policy)
        try:
            record_id = await self._quick(store.begin, new, self.rules if guard else None)
        except Refused as refused:
            if isinstance(refused.verdict, Breach):
                raise await refuse(store, new, refused.verdict) from None
            raise refusal(refused, tool, self.kind, self._where) from None
        except JournalStoreError as exc:
            raise unavailable(str(exc), self._where, exc.transient, exc.advice) from exc
        ticket = Ticket(record_id)
        self.in_flight += 1
        try:
            # Once the pending record exists the call runs to its end, whatever is cancelled
            # around it, so its outcome is known and recorded; ``grace`` bounds the wait.
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + self._grace
                try:
                    yield ticket
                except BaseException as exc:
                    await self._finish(store, tool, record_id, _finish_for(exc))
                    raise
                await self._finish(
                    store, tool, record_id, ticket.finish or Finish("unknown", detail="no result")
                )
        finally:
            self.in_flight -= 1

    async def _finish(self, store: JournalStore, tool: str, record_id: int, finish: Finish) -> None:
        log.info(
            "%s finished: %s (journal #%d, message id %s, parts %s)",
            tool,
            finish.outcome,
            record_id,
            finish.message_id or "none",
            finish.parts if finish.parts is not None else "?",
        )
        # Its own shield: the call's grace may have run out, and this record must still be made.
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            try:
                await self._quick(store.finish, record_id, finish, self._clock())
            except JournalStoreError as exc:
                log.error("%s: could not record the outcome in the journal: %s", tool, exc)

    async def would_refuse(self, tool: str, facts: CallFacts) -> bool:
        """Whether ``billable(..., guard=True)`` would refuse this call now (a read-only hint,
        so nobody is asked to confirm a send that cannot go; the real check is ``begin``'s)."""
        if facts.parts is not None and self.max_parts and facts.parts > self.max_parts:
            return True
        try:
            store = await self.store()
        except JournalUnavailable:
            return True
        new = _new_call(tool, self.kind, self._clock(), facts)
        if static_refusal(self.rules.policy, new) is not None:
            return True
        try:  # counted by the store (in SQL for SQLite and PostgreSQL), no records loaded
            return await anyio.to_thread.run_sync(store.judge, new, self.rules) is not None
        except JournalStoreError:
            return True

    async def find(self, message_id: str) -> Record | None:
        """The journal's record of ``message_id``; None when absent or the journal is unusable."""
        try:
            store = await self.store()
            return await anyio.to_thread.run_sync(store.by_message_id, message_id)
        except (JournalUnavailable, JournalStoreError) as exc:
            log.warning("the send journal could not be read: %s", exc)
            return None

    async def watch(self, interval: float = 1.0) -> None:
        """Look at the open journal every ``interval`` seconds, so a file deleted or replaced
        between two calls is reopened (and this process's last day carried into the new one)
        before another process reads it, not only at this process's next call.  Runs until
        cancelled; opens nothing (a journal not yet used has nothing to carry), and leaves a
        database alone (``watched`` false: nothing there can be replaced under it)."""
        while True:
            await anyio.sleep(interval)
            store = self._store
            if store is None or not getattr(store, "watched", True):
                continue
            try:
                await anyio.to_thread.run_sync(store.newest)
            except JournalStoreError as exc:
                log.warning("the send journal could not be checked: %s", exc)

    async def aclose(self) -> None:
        if self._store is not None:
            await anyio.to_thread.run_sync(self._store.close)
            self._store = None
        self._lane.close()

    async def _quick(self, fn: Callable[..., T], *args: object) -> T:
        """Run a store write here when it need not wait (the usual case for SQLite: a fraction of
        a millisecond), else on the journal's lane (``lane.py``), where waiting for another
        process's lock or a database's round trips is fine."""
        try:
            return fn(*args, wait=False)
        except Busy:
            return await self._lane.run(lambda: fn(*args))


def _new_call(tool: str, kind: Kind, now: float, facts: CallFacts) -> NewCall:
    from vertex_stdio.vertexsms.journal.records import digest, preview

    text = facts.text
    return NewCall(
        tool=tool,
        kind=kind,
        started=now,
        recipient=facts.recipient,
        sender=facts.sender,
        digest=digest(text) if text is not None else None,
        preview=preview(text) if text is not None else None,
        parts=facts.parts,
        price_eur=facts.price_eur,
        pid=os.getpid(),
        client=facts.client,
        allow_duplicate=facts.allow_duplicate,
        price_source=facts.price_source,
        machine=origin.machine(),
        os_user=origin.os_user(),
    )


def _finish_for(exc: BaseException) -> Finish:
    """How a call that raised ended: our errors say; anything else (a crash, a cancel) is unknown."""
    if isinstance(exc, VertexError):
        said = exc.extra.get("outcome")
        outcome = _ERROR_OUTCOMES.get(str(said), "unknown")
        return Finish(outcome, detail=text_free_detail(exc))
    return Finish("unknown", detail=f"interrupted ({type(exc).__name__})")
