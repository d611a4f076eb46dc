"""``vertex-stdio doctor [--json]``: check everything vertex-stdio needs, and say how to fix it.

Read-only: doctor creates, changes and signs in to nothing, and never prints a secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

import httpx2

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK
from vertex_stdio.desktop import local_checks, net_checks
from vertex_stdio.desktop.journal_check import journal_checks
from vertex_stdio.desktop.report import Check, passed, write_json, write_text
from vertex_stdio.vertexsms.settings import Settings


def collect(
    settings: Settings,
    *,
    transport: httpx2.BaseTransport | None = None,
    clock: Callable[[], float] | None = None,
    dns: net_checks.DnsWorks = net_checks.dns_works,
) -> list[Check]:
    """Every check, in the order a person fixes them: install, storage, credentials, network."""
    now = clock or time.time
    return [
        local_checks.check_versions(),
        local_checks.check_keyring(settings),
        *local_checks.check_dirs(),
        local_checks.check_token(settings),
        *journal_checks(settings, now),
        local_checks.check_sign_in(settings, now()),
        *net_checks.network_checks(settings, transport=transport, clock=now, dns=dns),
    ]


def run_doctor(
    settings: Settings,
    *,
    as_json: bool,
    out: TextIO,
    transport: httpx2.BaseTransport | None = None,
    clock: Callable[[], float] | None = None,
    dns: net_checks.DnsWorks = net_checks.dns_works,
) -> int:
    """Run every check and write the report to ``out``; 0 when nothing failed, else 1.

    ``transport``, ``clock`` (epoch seconds) and ``dns`` (does DNS work at all?) are seams for tests.  Warnings and skipped
    checks (for example every network check when offline) do not fail the run.
    """
    checks = collect(settings, transport=transport, clock=clock, dns=dns)
    if as_json:
        write_json(checks, out)
    else:
        write_text(checks, out)
    return EXIT_OK if passed(checks) else EXIT_FIXABLE
