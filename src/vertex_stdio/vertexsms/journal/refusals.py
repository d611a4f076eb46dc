"""A call refused before it ever became billable (no yes from a person), and today's totals.

Both stand beside ``SendJournal.billable``: a refusal is recorded ``refused`` with its error's
text-free detail and is never counted against a limit (it did not go).
"""

from __future__ import annotations

import logging

import anyio.to_thread

from vertex_stdio.core.errors import JournalUnavailable, VertexError
from vertex_stdio.vertexsms.journal.records import DAY, Finish, Totals, totals
from vertex_stdio.vertexsms.journal.safety import CallFacts, SendJournal, _new_call
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, Refused
from vertex_stdio.vertexsms.journal.verdicts import text_free_detail

log = logging.getLogger(__name__)


async def record_refusal(journal: SendJournal, tool: str, facts: CallFacts, error: VertexError) -> None:
    """Record ``tool``'s call described by ``facts`` as ``refused`` by ``error``.  The call is
    refused either way, so a journal in trouble is only logged here."""
    new = _new_call(tool, journal.kind, journal.now(), facts)

    def record(store: JournalStore) -> None:
        try:
            record_id = store.begin(new, None)
        except Refused:
            return  # the clock is behind the journal: nothing can be recorded by it
        store.finish(record_id, Finish("refused", detail=text_free_detail(error)), new.started)

    try:
        await anyio.to_thread.run_sync(record, await journal.store())
    except (JournalStoreError, JournalUnavailable) as exc:
        log.error("%s: could not record a refusal in the journal: %s", tool, exc)


async def today(journal: SendJournal) -> Totals:
    """What the last 24 hours of the journal's kind add up to (zero when it cannot be read)."""
    now = journal.now()
    try:
        store = await journal.store()
        recent = await anyio.to_thread.run_sync(store.records, now - DAY)
    except (JournalStoreError, JournalUnavailable):
        return Totals(0, 0, 0, 0.0, 0)
    return totals(recent, journal.kind, now)
