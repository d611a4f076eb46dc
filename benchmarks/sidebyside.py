"""Section 6's bridges and its verdicts: every figure per bridge, and each target against mcp-remote.

The targets (issue 22, and issue 13's before it) are ratios of medians measured in one
interleaved run: ours over mcp-remote's.  Start-up counts from spawn to the ``tools/list``
answer and to the first ``tools/call`` answer; ``serve`` is judged with a token given, signed in
with ``login --token``, not signed in (start-up only: its first call needs a sign-in) and in the
sandbox, ``connect`` from its cache; and ``connect`` under a client that declares roots against
mcp-remote under that client, in front of the section's server (a 2026-07-28 session for
``connect``) and in front of a 2025-only one (``declaring.py``).  The "before" bridge and the
lean-front-off and lean-calls-off variants (the sandbox's too) are figures only (each shows what
that lever alone is worth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stats import Figure, Report, Target, percentile

SECTION = "6. Hosted path side by side (correct_phone_number over Streamable HTTP)"
SERVE, CONNECT = "vertex-stdio", "vertex-stdio connect"
STARTED = (
    SERVE,
    "vertex-stdio, not signed in",
    "vertex-stdio, login --token",
    "vertex-stdio --sandbox",
    CONNECT,
)
FIRST_CALL = (SERVE, "vertex-stdio, login --token", "vertex-stdio --sandbox", CONNECT)
CALLING = (SERVE, CONNECT)
DECLARES, LEGACY = "client declares roots", "2025-only remote"
# (our bridge, the suffix of mcp-remote's under the same client in front of the same remote, the remote)
DECLARING = (
    (f"{CONNECT}, {DECLARES}", DECLARES, "2026-07-28 remote"),
    (f"{CONNECT}, {DECLARES}, {LEGACY}", f"{DECLARES}, {LEGACY}", LEGACY),
)
START_LIMIT, BURST_CPU_LIMIT, RSS_LIMIT = 0.8, 0.8, 80.0


@dataclass
class Bridge:
    """One bridge under test: how to start it, and what was measured."""

    name: str
    argv: list[str]
    env: dict[str, str]
    startup_only: bool = False  # a start-up variant: not in the call and burst rounds
    declares: dict[str, object] = field(default_factory=dict)  # the client's capabilities
    remote: str = ""  # not the section's server (then not in the sequential rounds: no direct baseline)
    startup: list[float] = field(default_factory=list)  # spawn -> tools/list answered, s
    first_call: list[float] = field(default_factory=list)  # spawn -> first tools/call answered, s
    p50: list[float] = field(default_factory=list)  # per block, ms
    cpu: list[float] = field(default_factory=list)  # per call, ms
    burst: list[float] = field(default_factory=list)  # wall, ms
    burst_cpu: list[float] = field(default_factory=list)  # per call, ms
    rss: list[float] = field(default_factory=list)  # MB
    failed: list[str] = field(default_factory=list)  # the error of every call that failed


def report_hosted(report: Report, found: list[Bridge], baseline: Bridge, missing: str | None) -> None:
    """Every bridge's figures, then the targets (skipped, with the reason, without mcp-remote)."""
    direct = baseline.p50
    p50s = [d for d in direct if not math.isnan(d)]
    report.add(SECTION, Figure("baseline: SDK Streamable HTTP client, direct, p50", "ms", p50s, "per block"))
    for b in [baseline, *found]:
        if not b.startup_only:
            name = f"hosted: every call through {b.name} answered"
            report.targets.append(Target(name, len(b.failed), 0, "failed", _first(b.failed)))
    for b in found:
        _figures(report, b, direct)
    peer = next((b for b in found if is_peer(b.name)), None) if missing is None else None
    _targets(report, {b.name: b for b in found}, peer, direct, missing)


def _figures(report: Report, b: Bridge, direct: list[float]) -> None:
    report.add(SECTION, Figure(f"{b.name}: spawn -> tools/list", "s", b.startup))
    report.add(SECTION, Figure(f"{b.name}: spawn -> first tools/call answered", "s", b.first_call))
    if b.startup_only:
        return
    if not b.remote:
        report.add(SECTION, Figure(f"{b.name}: p50 over direct", "ms", _over_direct(b, direct), "per block"))
        report.add(SECTION, Figure(f"{b.name}: CPU per call", "ms", b.cpu, "from /proc"))
    report.add(SECTION, Figure(f"{b.name}: 200-call burst, raw pipe", "ms", b.burst))
    report.add(SECTION, Figure(f"{b.name}: CPU per call in a burst", "ms", b.burst_cpu, "from /proc"))
    report.add(SECTION, Figure(f"{b.name}: peak RSS", "MB", [max(b.rss)] if b.rss else []))


def _targets(
    report: Report, ours: dict[str, Bridge], peer: Bridge | None, direct: list[float], missing: str | None
) -> None:
    add = report.targets.append
    for name in STARTED:
        b = ours.get(name)
        add(
            _ratio(
                f"start-up to tools/list <= 0.8x mcp-remote's: {name}",
                b,
                peer,
                "startup",
                START_LIMIT,
                missing,
            )
        )
    for name in FIRST_CALL:
        b = ours.get(name)
        add(
            _ratio(
                f"spawn -> first tools/call <= 0.8x mcp-remote's: {name}",
                b,
                peer,
                "first_call",
                START_LIMIT,
                missing,
            )
        )
    _declaring(report, ours, peer, missing)
    for name in CALLING:
        b = ours.get(name)
        rss = max(b.rss) if b is not None and b.rss else None
        add(Target(f"peak RSS <= 80 MB: {name}", rss, RSS_LIMIT, "MB", "sequential rounds and bursts"))
        if peer is None or b is None:
            for what in ("p50 over direct <= mcp-remote's", "200-call burst <= mcp-remote's"):
                add(Target(f"hosted {what}: {name}", None, 1.0, "x", skipped=f"mcp-remote: {missing}"))
            continue
        over = percentile(_over_direct(b, direct), 50) - percentile(_over_direct(peer, direct), 50)
        add(
            Target(
                f"hosted p50 over direct <= mcp-remote's: {name}",
                over,
                0.0,
                "ms",
                "ours - theirs, median of blocks",
            )
        )
        if name == SERVE:  # issue 13's target, kept
            add(_ratio(f"hosted CPU per call <= 0.75x mcp-remote's: {name}", b, peer, "cpu", 0.75, missing))
        add(_ratio(f"hosted 200-call burst <= mcp-remote's: {name}", b, peer, "burst", 1.0, missing))
        add(
            _ratio(
                f"hosted CPU per call in a burst <= 0.8x mcp-remote's: {name}",
                b,
                peer,
                "burst_cpu",
                BURST_CPU_LIMIT,
                missing,
            )
        )


def _declaring(report: Report, ours: dict[str, Bridge], peer: Bridge | None, missing: str | None) -> None:
    """``connect`` under a client that declares roots: its first call against mcp-remote's under
    the same client in front of the same remote, and its peak RSS (``declaring.py``)."""
    for name, suffix, remote in DECLARING:
        b = ours.get(name)
        theirs = ours.get(f"{peer.name}, {suffix}") if peer is not None else None
        why = f"its column under that client ({suffix}) did not start" if theirs is None and peer else missing
        report.targets.append(
            _ratio(
                f"spawn -> first tools/call <= 0.8x mcp-remote's, both under a client that declares "
                f"roots, {remote}: {CONNECT}",
                b,
                theirs,
                "first_call",
                START_LIMIT,
                why,
            )
        )
        rss = max(b.rss) if b is not None and b.rss else None
        rounds = "bursts" if b is not None and b.remote else "sequential rounds and bursts"
        report.targets.append(Target(f"peak RSS <= 80 MB: {name}", rss, RSS_LIMIT, "MB", rounds))


def is_peer(name: str) -> bool:
    """Whether ``name`` is mcp-remote's own column (not one of its variants, which name their client)."""
    return name.startswith("mcp-remote") and "," not in name


def _ratio(
    name: str, ours: Bridge | None, peer: Bridge | None, what: str, limit: float, missing: str | None
) -> Target:
    """median(ours) / median(mcp-remote's) of the figure ``what``."""
    if peer is None:
        return Target(name, None, limit, "x", skipped=f"mcp-remote: {missing}")
    mine = getattr(ours, what) if ours is not None else []
    theirs = getattr(peer, what)
    value = percentile(mine, 50) / percentile(theirs, 50) if mine and theirs else None
    return Target(name, value, limit, "x", "median / median, one interleaved run")


def _over_direct(bridge: Bridge, direct: list[float]) -> list[float]:
    """Per block, the bridge's p50 minus the direct client's (blocks where either had no answer left out)."""
    return [x - d for x, d in zip(bridge.p50, direct, strict=True) if not math.isnan(x - d)]


def _first(failed: list[str]) -> str:
    return f"first: {failed[0][:160]}" if failed else ""
