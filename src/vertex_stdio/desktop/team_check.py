"""The doctor's look at a team's PostgreSQL journal: the connection (as the journal would make
it, with its password, which is never shown), the schema version, and the clock skew between
this machine and the database server.  Read-only: it creates and migrates nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from vertex_stdio.desktop.report import Check
from vertex_stdio.vertexsms.journal.records import CLOCK_SKEW
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.journal.where import TeamExtraMissing, install_command, password_advice

CONNECTION = "team journal"
SCHEMA = "team journal schema"
CLOCK = "clock vs database"
# Beyond this the clocks disagree enough to mislead `history` and the duplicate window's edges;
# beyond CLOCK_SKEW (behind) this machine's billable calls are refused.
SKEW_WARN = 30.0
_TIME_FIX = "turn on network time on this machine (Linux: sudo timedatectl set-ntp true; macOS and Windows: Settings, Date & Time, set automatically)"


def check_team_journal(
    url: str, env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time
) -> list[Check]:
    """``fail`` when the database cannot be reached (billable tools refuse until it can) or holds a
    newer schema than this vertex-stdio; the clock check warns from 30 s of skew and fails when
    this machine is so far behind that its billable calls would be refused."""
    from vertex_stdio.vertexsms.journal.pgschema import SCHEMA_VERSION
    from vertex_stdio.vertexsms.journal.teamprobe import probe

    try:
        found = probe(url, os.environ if env is None else env, clock)
    except TeamExtraMissing as exc:
        return [Check(CONNECTION, "fail", f"{exc}; billable tools refuse to run", install_command())]
    except JournalStoreError as exc:
        return [
            Check(
                CONNECTION,
                "fail",
                f"{exc}; billable tools refuse to run (nothing is sent), free tools work",
                exc.advice or _reach_fix(url),
            ),
            Check(SCHEMA, "skip", "the database could not be reached"),
            Check(CLOCK, "skip", "the database could not be reached"),
        ]
    return [
        Check(CONNECTION, "ok", f"{found.where}: connected"),
        _schema(found.schema_version, SCHEMA_VERSION),
        _clock(found.skew, found.uncertainty),
    ]


def _reach_fix(url: str) -> str:
    from vertex_stdio.core.urls import redacted_url

    return (
        f"check that the database server of {redacted_url(url)} is running and reachable from this "
        f"machine (host, port, firewall, sslmode); if it asks for a password, {password_advice(url)}"
    )


def _schema(found: int, ours: int) -> Check:
    if found == 0:
        return Check(
            SCHEMA,
            "ok",
            f"no journal tables yet: created (version {ours}) by the first vertex-stdio that opens it",
        )
    if found < ours:
        return Check(
            SCHEMA, "ok", f"version {found}: migrated to {ours} by the next vertex-stdio that opens it"
        )
    if found > ours:
        return Check(
            SCHEMA,
            "fail",
            f"version {found}, newer than this vertex-stdio knows ({ours}): it refuses to write to it",
            "upgrade vertex-stdio on this machine (another machine sharing the journal runs a newer one)",
        )
    return Check(SCHEMA, "ok", f"version {found} (current)")


def _clock(skew: float, uncertainty: float) -> Check:
    """``skew``: the server's clock minus ours."""
    way = "behind" if skew > 0 else "ahead of"
    detail = f"this machine's clock is {abs(skew):.1f} s {way} the database server's (±{uncertainty:.2f} s)"
    if skew > CLOCK_SKEW:
        return Check(
            CLOCK,
            "fail",
            detail + "; its billable calls are refused while the journal holds newer calls",
            _TIME_FIX,
        )
    if abs(skew) > SKEW_WARN:
        return Check(
            CLOCK,
            "warn",
            detail + "; records from the machines sharing the journal interleave out of order",
            _TIME_FIX,
        )
    return Check(CLOCK, "ok", detail)
