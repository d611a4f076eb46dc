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
from vertex_stdio.vertexsms.journal.where import KEYRING_SERVICE, TeamExtraMissing, install_command

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
                _reach_fix(url),
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
        "check that the database server is running and reachable from this machine (host, port, "
        "firewall, sslmode) and that the password is set: PGPASSWORD, ~/.pgpass, a service file, or "
        f"keyring set '{KEYRING_SERVICE}' '{redacted_url(url)}'"
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
