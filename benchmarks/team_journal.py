"""Section 8: what a team's journal on PostgreSQL adds to a billable call (p50, p99), on loopback.

As section 7, with the journal in a real PostgreSQL server that the benchmark starts itself
(``tests/support/postgres.py``: Debian's ``initdb`` + ``pg_ctl`` in a temp dir, fsync on, as a
team's server would run) and reaches over TCP with a password: the advisory-locked transaction
that checks the guard and the limits and inserts ``pending`` before the request, and the one
that records the outcome after it.  Skipped, with a line saying why, where the server binaries
or ``psycopg`` are missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio.to_thread
from harness import Plan
from journal import interleaved
from stats import Figure, Report, Target, percentile
from trustlayout import INSIDE

from vertex_stdio.vertexsms.journal import Rules, SendJournal

SECTION = "8. Team journal on loopback PostgreSQL (per billable call; ms)"
TARGET = "team journal adds < 5 ms p50 per billable call"
SUPPORT = Path(__file__).resolve().parent.parent / "tests" / "support"


async def measure_team_journal(report: Report, plan: Plan, upstream_url: str) -> None:
    if str(SUPPORT) not in sys.path:
        sys.path.append(str(SUPPORT))
    from postgres import Postgres, unavailable

    why = unavailable()
    if os.environ.get(INSIDE):  # --trust bundle: uid 0 in a user namespace (trustlayout.py)
        why = "the --trust bundle run is root in its namespace, where PostgreSQL's initdb does not run"
    if why is not None:
        report.info["team_journal"] = f"skipped: {why}"
        report.targets.append(Target(TARGET, None, 5.0, "ms", skipped=why))
        sys.stderr.write(f"benchmark: the team journal section is skipped: {why}\n")
        return
    rounds = 2 * plan.calls_per_block
    rules = Rules(duplicate_window=600, max_messages_per_day=0, max_recipients_per_day=0)
    server = await anyio.to_thread.run_sync(lambda: Postgres.create(durable=True))
    try:
        from vertex_stdio.vertexsms.journal.pgstore import PgStore

        journal = SendJournal(
            lambda: PgStore(server.url, password=server.password), where=server.url, rules=rules
        )
        bare, wrapped, added = await interleaved(journal, upstream_url, rounds)
    finally:
        await anyio.to_thread.run_sync(server.close)
    ms = [x * 1000 for x in added]
    report.add(SECTION, Figure("team journal added: p50", "ms", [percentile(ms, 50)], f"{rounds} calls"))
    report.add(SECTION, Figure("team journal added: p99", "ms", [percentile(ms, 99)], f"{rounds} calls"))
    report.add(SECTION, Figure("request bare: p50", "ms", [percentile([x * 1000 for x in bare], 50)]))
    report.add(SECTION, Figure("request journaled: p50", "ms", [percentile([x * 1000 for x in wrapped], 50)]))
    report.targets.append(Target(TARGET, percentile(ms, 50), 5.0, "ms", "begin + finish, fsync on"))
