"""Section 7: what the send journal adds to a billable call (p50, p99), in one run.

Each round makes the same request to ``upstream.py`` (its own process, fixed delay) twice,
interleaved: once bare, once inside ``SendJournal.billable`` with the duplicate guard and the
limits checked, on a real SQLite file (WAL).  The journal's share is the time inside
``billable`` but outside the request: the checked ``pending`` insert before it and the outcome
update after it.  (An in-process emulator would make both sides fight it for the GIL.)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx2
from harness import Plan
from stats import Figure, Report, Target, percentile

from vertex_stdio.vertexsms.journal import CallFacts, Rules, SendJournal

SECTION = "7. Send journal (per billable call; ms)"


async def measure_journal(report: Report, plan: Plan, upstream_url: str) -> None:
    rounds = 2 * plan.calls_per_block
    rules = Rules(duplicate_window=600, max_messages_per_day=0, max_recipients_per_day=0)
    with tempfile.TemporaryDirectory(prefix="vertex-bench-journal-") as home:
        journal = SendJournal.at(Path(home) / "journal.sqlite3", rules=rules)
        bare, wrapped, added = await interleaved(journal, upstream_url, rounds)
    ms = [x * 1000 for x in added]
    report.add(SECTION, Figure("journal added: p50", "ms", [percentile(ms, 50)], f"{rounds} calls"))
    report.add(SECTION, Figure("journal added: p99", "ms", [percentile(ms, 99)], f"{rounds} calls"))
    report.add(SECTION, Figure("request bare: p50", "ms", [percentile([x * 1000 for x in bare], 50)]))
    report.add(SECTION, Figure("request journaled: p50", "ms", [percentile([x * 1000 for x in wrapped], 50)]))
    report.targets.append(
        Target("journal adds < 2 ms p50 per billable call", percentile(ms, 50), 2.0, "ms", "begin + finish")
    )


async def interleaved(
    journal: SendJournal, upstream_url: str, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """``rounds`` requests bare and as many inside ``billable``, interleaved: (bare, journaled,
    the journal's share of each journaled one), in seconds; closes ``journal``."""
    bare: list[float] = []
    wrapped: list[float] = []
    added: list[float] = []
    async with httpx2.AsyncClient(base_url=upstream_url) as client:

        async def post(i: int) -> str:
            response = await client.get(f"/operators/{1000 + i}")
            return str(response.json()["id"])

        await post(-1)
        await journal.store()  # opening the store once is start-up, not per call
        for i in range(rounds):
            started = time.perf_counter()
            await post(2 * i)
            bare.append(time.perf_counter() - started)
            t0 = time.perf_counter()
            facts = CallFacts("+37060000001", "ACME", f"benchmark {2 * i + 1}", 1)
            async with journal.billable("send_sms", facts, guard=True) as ticket:
                t1 = time.perf_counter()
                ticket.sent(await post(2 * i + 1), parts=1)
                t2 = time.perf_counter()
            t3 = time.perf_counter()
            wrapped.append(t3 - t0)
            added.append((t1 - t0) + (t3 - t2))
    await journal.aclose()
    return bare, wrapped, added
