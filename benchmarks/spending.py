"""Section 7, the spending policy's share: what checking a full policy adds to a send (p50, p99).

Each round records one send in two journals on real SQLite files (WAL), interleaved: one with
the daily limits only, one with every policy rule set (allowed recipients and countries, quiet
hours in the recipient's zones, the per-recipient and monthly caps counted inside the write
lock).  The body does no I/O, so the difference is the journal's work for the policy alone.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import Plan
from stats import Figure, Report, Target, percentile

from vertex_stdio.vertexsms.journal import CallFacts, Rules, SendJournal
from vertex_stdio.vertexsms.policy import parse

SECTION = "7. Send journal (per billable call; ms)"


def _policy_text() -> str:
    """Every rule set, none refusing: quiet hours an hour long, six hours from now in Vilnius."""
    later = datetime.now(ZoneInfo("Europe/Vilnius")) + timedelta(hours=6)
    quiet = f"{later:%H:%M}-{later + timedelta(hours=1):%H:%M}"
    return (
        'allowed_recipients = ["+3706"]\nallowed_countries = ["LT"]\n'
        f'quiet_hours = "{quiet}"\nmax_messages_per_month = 1000000\nmax_eur_per_month = 1000000\n'
    )


async def measure_policy(report: Report, plan: Plan) -> None:
    rounds = 2 * plan.calls_per_block
    plain: list[float] = []
    policed: list[float] = []
    limits = {"duplicate_window": 600.0, "max_messages_per_day": 0, "max_recipients_per_day": 0}
    with tempfile.TemporaryDirectory(prefix="vertex-bench-policy-") as home:
        without = SendJournal.at(Path(home) / "plain.sqlite3", rules=Rules(**limits))  # type: ignore[arg-type]
        policy = parse(_policy_text(), Path(home) / "policy.toml", {})
        assert policy.problem is None, policy.problem
        checked = SendJournal.at(Path(home) / "policed.sqlite3", rules=Rules(**limits, policy=policy))  # type: ignore[arg-type]
        for journal in (without, checked):
            await journal.store()  # opening the file once is start-up, not per call
        for i in range(rounds):
            facts = CallFacts(f"+3706{i:07d}", "ACME", f"benchmark {i}", 1, 0.039)
            for journal, times in ((without, plain), (checked, policed)):
                started = time.perf_counter()
                async with journal.billable("send_sms", facts, guard=True) as ticket:
                    ticket.sent(f"m{i}", parts=1)
                times.append((time.perf_counter() - started) * 1000)
        await without.aclose()
        await checked.aclose()
    added = percentile(policed, 50) - percentile(plain, 50)
    report.add(
        SECTION, Figure("send journaled, no policy: p50", "ms", [percentile(plain, 50)], f"{rounds} sends")
    )
    report.add(SECTION, Figure("send journaled, every policy rule: p50", "ms", [percentile(policed, 50)]))
    report.add(SECTION, Figure("send journaled, every policy rule: p99", "ms", [percentile(policed, 99)]))
    report.add(SECTION, Figure("policy check added: p50", "ms", [added], "the difference of the two p50s"))
    report.targets.append(
        Target("the spending policy adds < 1 ms p50 per send", added, 1.0, "ms", "in-process")
    )
