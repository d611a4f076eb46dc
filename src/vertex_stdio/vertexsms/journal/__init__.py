"""The local send journal: every billable or account-changing call, recorded before it leaves. May import vertexsms.settings and core.

``SendJournal`` (safety.py) is what tools use; ``JournalStore`` (store.py) is its storage:
``SqliteStore`` (sqlite.py) the file shared by every process of this machine, ``PgStore``
(pgstore.py) a team's PostgreSQL database shared by every machine, picked by ``open_store``
(where.py) and loaded on first use; records.py holds the pure rules (duplicate guard, spend
limits, totals) and verdicts.py the tool errors its refusals become.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vertex_stdio.vertexsms.journal.records import Kind, Record, Rules, Totals, totals
from vertex_stdio.vertexsms.journal.safety import CallFacts, SendJournal, Ticket
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, MemoryStore, StoreFacts
from vertex_stdio.vertexsms.journal.where import TeamExtraMissing, describe, journal_url, open_store
from vertex_stdio.vertexsms.policy import Policy
from vertex_stdio.vertexsms.policy import load as load_policy
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


def rules_of(settings: Settings, policy: Policy | None = None) -> Rules:
    """The settings' limits, a daily limit written in the policy file taking the place of a
    default (a variable that is set wins over the file), and the policy's own rules."""

    def limit(name: str) -> Any:
        return policy.get(name) if policy and _from_file(policy, name) else getattr(settings, name)

    return Rules(
        duplicate_window=settings.duplicate_window * 60.0,
        max_messages_per_day=limit("max_messages_per_day"),
        max_recipients_per_day=limit("max_recipients_per_day"),
        max_eur_per_day=limit("max_eur_per_day"),
        policy=policy,
    )


def _from_file(policy: Policy, name: str) -> bool:
    return policy.values[name].source not in ("default",) and not policy.values[name].source.startswith(
        "VERTEXSMS_"
    )


def journal_for(
    settings: Settings,
    *,
    path: Path | None = None,
    clock: Callable[[], float] | None = None,
    policy: Policy | None = None,
) -> SendJournal:
    """The process's journal, with the settings' limits and the spending policy (``policy``,
    default: the one ``VERTEXSMS_POLICY`` or the config directory holds): in the team's
    PostgreSQL database when the policy's ``journal_url`` (``VERTEXSMS_JOURNAL_URL``) is set,
    else in the SQLite file ``path`` (default: the state dir)."""
    extra = {} if clock is None else {"clock": clock}
    if policy is None:
        policy = load_policy(os.environ)
    parts = policy.get("max_parts") if _from_file(policy, "max_parts") else settings.max_parts
    file = path or default_path()
    return SendJournal(
        lambda: open_store(policy, path=file),
        where=describe(policy, file),
        kind=kind_of(settings),
        rules=rules_of(settings, policy),
        max_parts=parts,
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
    "StoreFacts",
    "TeamExtraMissing",
    "Ticket",
    "Totals",
    "default_path",
    "describe",
    "journal_for",
    "journal_url",
    "kind_of",
    "open_store",
    "rules_of",
    "totals",
]
