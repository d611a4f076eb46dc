"""The local send journal: every billable or account-changing call, recorded before it leaves. May import vertexsms.settings and core.

``SendJournal`` (safety.py) is what tools use; ``JournalStore`` (store.py) is its storage,
``SqliteStore`` (sqlite.py, loaded on first use) the real one shared by every process;
records.py holds the pure rules (duplicate guard, spend limits, totals).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vertex_stdio.vertexsms.journal.records import Kind, Record, Rules, Totals, totals
from vertex_stdio.vertexsms.journal.safety import CallFacts, SendJournal, Ticket
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, MemoryStore
from vertex_stdio.vertexsms.settings import Settings

JOURNAL_FILE = "journal.sqlite3"


def default_path() -> Path:
    """``journal.sqlite3`` in the platform state directory (where the sign-in state lives)."""
    import platformdirs

    return platformdirs.user_state_path("vertex-stdio", appauthor=False) / JOURNAL_FILE


def kind_of(settings: Settings) -> Kind:
    """Sandbox and test-mode sends are recorded, and counted, apart from real ones."""
    if settings.sandbox:
        return "sandbox"
    return "test" if settings.test_mode else "real"


def rules_of(settings: Settings) -> Rules:
    return Rules(
        duplicate_window=settings.duplicate_window * 60.0,
        max_messages_per_day=settings.max_messages_per_day,
        max_recipients_per_day=settings.max_recipients_per_day,
        max_eur_per_day=settings.max_eur_per_day,
    )


def journal_for(
    settings: Settings, *, path: Path | None = None, clock: Callable[[], float] | None = None
) -> SendJournal:
    """The process's journal, with the settings' limits, in ``path`` (default: the state dir)."""
    extra = {} if clock is None else {"clock": clock}
    return SendJournal.at(
        path or default_path(),
        kind=kind_of(settings),
        rules=rules_of(settings),
        max_parts=settings.max_parts,
        retention_days=settings.journal_days,
        grace=settings.http_timeout + 10.0,
        **extra,
    )


__all__ = [
    "CallFacts",
    "JournalStore",
    "JournalStoreError",
    "Kind",
    "MemoryStore",
    "Record",
    "Rules",
    "SendJournal",
    "Ticket",
    "Totals",
    "default_path",
    "journal_for",
    "kind_of",
    "rules_of",
    "totals",
]
