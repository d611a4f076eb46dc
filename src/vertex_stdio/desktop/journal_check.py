"""The doctor's look at the send journal: can it be opened, is it private, what is unresolved."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from vertex_stdio.core.launcher import command
from vertex_stdio.desktop.report import Check
from vertex_stdio.vertexsms.journal import default_path, kind_of, totals
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.settings import Settings

NAME = "send journal"


def journal_checks(settings: Settings, clock: Callable[[], float] = time.time) -> list[Check]:
    """The journal where the policy puts it: a team's PostgreSQL database (its connection, schema
    and clock), else the SQLite file on this machine."""
    from vertex_stdio.vertexsms.journal.where import journal_url
    from vertex_stdio.vertexsms.policy import load

    url = journal_url(load(os.environ))
    if url is None:
        return [check_journal(settings, now=clock())]
    from vertex_stdio.desktop.team_check import check_team_journal

    return check_team_journal(url, os.environ, clock)


def check_journal(settings: Settings, path: Path | None = None, now: float | None = None) -> Check:
    """``ok`` with the last 24 hours against the limits; ``warn`` for unknown outcomes or loose
    permissions; ``fail`` when billable tools would refuse to run (damaged or unwritable)."""
    path = path or default_path()
    now = time.time() if now is None else now
    if not path.exists():
        return Check(NAME, "ok", f"{path} (created on the first billable call)")
    from vertex_stdio.vertexsms.journal.sqlite import SqliteStore

    try:
        store = SqliteStore(path)
        try:
            day = store.records(now - 86400)
            count = len(store.records(0))
        finally:
            store.close()
    except JournalStoreError as exc:
        return Check(
            NAME,
            "fail",
            f"{exc}; billable tools refuse to run",
            f"move it aside: mv '{path}' '{path}.broken'",
        )
    kind = kind_of(settings)
    t = totals(day, kind, now)
    limit = settings.max_messages_per_day or "no limit"
    detail = f"{path}: {count} records; last 24 h ({kind}): {t.messages} of {limit} messages, {t.parts} parts"
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return Check(NAME, "warn", detail + "; readable by others", f"chmod 600 '{path}'")
    unresolved = [r for r in day if r.outcome in ("unknown", "pending")]
    if unresolved:
        return Check(
            NAME,
            "warn",
            detail + f"; {len(unresolved)} call(s) with an unknown outcome",
            f"see them and how to check each: {command('history --pending')}",
        )
    return Check(NAME, "ok", detail)
