"""vertex-stdio's benchmark: start-up, per-call overhead, concurrency, token work, memory.

    uv run python benchmarks/run.py [--quick] [--json PATH] [--delay SECONDS]

Everything runs against ``upstream.py``, a fixed-delay stand-in for the VertexSMS REST API on
loopback (its own process), and every figure is set against a baseline measured in the same
run.  Figures are medians over repeated runs with their spread ``[min .. max]``.  Prints a
table (and, with ``--json``, writes the figures as JSON).  Not a test: nothing here fails on
a slow machine; the exit status is non-zero only when the benchmark itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import anyio
from calls import measure_calls
from harness import BEFORE_REF, Before, Plan, UpstreamProcess, bridge_env, checkout_src
from hosted import measure_hosted
from journal import measure_journal
from spending import measure_policy
from stats import Figure, Report, Target, percentile, render
from team_journal import measure_team_journal
from tokenwork import measure_tokens
from trustlayout import INSIDE, run_with_bundle_only, trust_store

SECTION = "1. Start-up (spawn -> answer, or -> imported for baselines; seconds)"
FLOORS = {
    "python -c pass": "pass",
    "python -c 'import mcp'": "import mcp",
    "python -c 'import mcp.server, mcp.server.stdio'": "import mcp.server, mcp.server.stdio",
}
SERVE_FLOOR = "python -c 'import mcp.server, mcp.server.stdio'"


def _rpc(id_: int | None, method: str, params: dict[str, object] | None = None) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if id_ is not None:
        message["id"] = id_
    return json.dumps(message).encode() + b"\n"


INITIALIZE = _rpc(
    1,
    "initialize",
    {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "vertex-stdio-benchmark", "version": "1"},
    },
)


def _await_response(stream: IO[bytes], id_: int) -> None:
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("the bridge closed stdout before answering")
        if json.loads(line).get("id") == id_:
            return


def bridge_startup(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning the bridge to its ``initialize`` answer and its ``tools/list`` answer."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vertex_stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(INITIALIZE)
        proc.stdin.flush()
        _await_response(proc.stdout, 1)
        initialized = time.perf_counter() - started
        proc.stdin.write(_rpc(None, "notifications/initialized") + _rpc(2, "tools/list"))
        proc.stdin.flush()
        _await_response(proc.stdout, 2)
        listed = time.perf_counter() - started
    finally:
        proc.stdin.close()
        proc.wait(10)
    return initialized, listed


def python_imported(env: dict[str, str], code: str) -> float:
    """Seconds from spawning ``python -c code`` to the line it prints once ``code`` ran.

    Not to its exit: tearing down ~600 modules at exit is a cost the bridge never pays
    before it answers, so timing to exit would flatter the bridge.
    """
    started = time.perf_counter()
    script = f"{code}\nimport sys\nsys.stdout.write('ready\\n')\nsys.stdout.flush()"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(10)
    if line != b"ready\n":
        raise RuntimeError(f"python -c {code!r} failed")
    return elapsed


def measure_startup(report: Report, plan: Plan, env: dict[str, str], oauth_env: dict[str, str]) -> None:
    """Section 1: the bridge against the SDK-import floors, interleaved run by run."""
    floors: dict[str, list[float]] = {name: [] for name in FLOORS}
    init, listed, oauth_listed = [], [], []
    bridge_startup(env)  # warm the OS file cache once, unmeasured
    for code in FLOORS.values():
        python_imported(env, code)
    for _ in range(plan.startup_runs):  # interleaved, so drift in the machine's load hits all alike
        for name, code in FLOORS.items():
            floors[name].append(python_imported(env, code))
        a, b = bridge_startup(env)
        init.append(a)
        listed.append(b)
        oauth_listed.append(bridge_startup(oauth_env)[1])
    for name, values in floors.items():
        report.add(SECTION, Figure(f"baseline: {name}", "s", values))
    report.add(SECTION, Figure("bridge: spawn -> initialize", "s", init))
    report.add(SECTION, Figure("bridge: spawn -> tools/list", "s", listed))
    for name in (SERVE_FLOOR, "python -c 'import mcp'"):
        ratios = [b / f for b, f in zip(listed, floors[name], strict=True)]
        report.add(SECTION, Figure(f"ratio tools/list / {name.removeprefix('python -c ')}", "x", ratios))
    report.add(
        SECTION,
        Figure("context: spawn -> tools/list, OAuth (no token yet)", "s", oauth_listed, "not a target"),
    )
    ratio = percentile(listed, 50) / percentile(floors[SERVE_FLOOR], 50)
    report.targets.append(
        Target("start-up to tools/list <= 1.05x SDK import", ratio, 1.05, "x", "median / median of floor")
    )


def _before(ref: str, home: Path, report: Report) -> Before | None:
    """The bridge's code at ``ref``, unpacked for this run; None (and a note) when not available."""
    if not ref:
        return None
    src = checkout_src(ref, home / "before")
    if isinstance(src, str):
        report.info["before"] = f"skipped: {src}"
        sys.stderr.write(f"benchmark: the 'before' bridge is skipped: {src}\n")
        return None
    report.info["before"] = ref
    return Before(f"vertex-stdio @ {ref}", src)


def _load() -> list[float] | None:
    """The machine's load average (what else was running), or None where there is none."""
    try:
        return [round(x, 1) for x in os.getloadavg()]
    except OSError:
        return None


def _without_trust(argv: list[str]) -> list[str]:
    """``argv`` without its ``--trust X`` / ``--trust=X`` (the run in the namespace is that run)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip or arg.startswith("--trust="):
            skip = False
            continue
        skip = arg == "--trust"
        if not skip:
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here as JSON")
    parser.add_argument(
        "--delay", type=float, default=0.05, help="the upstream's fixed delay (default 0.05 s)"
    )
    parser.add_argument(
        "--before",
        default=BEFORE_REF,
        metavar="REF",
        help=f"commit whose bridge is measured beside today's (default {BEFORE_REF}; '' to skip)",
    )
    parser.add_argument(
        "--only", choices=["hosted", "journal"], help="run one section only (while developing)"
    )
    parser.add_argument(
        "--trust",
        choices=["bundle"],
        help="run where the CA bundle is parsed, as on Fedora (trustlayout.py; Linux, unshare)",
    )
    args = parser.parse_args(argv)
    if args.trust == "bundle" and not os.environ.get(INSIDE):
        return run_with_bundle_only(_without_trust(list(sys.argv[1:] if argv is None else argv)))
    plan = Plan.of(args.quick, args.delay)
    report = Report(
        info={
            "plan": plan.__dict__,
            "plan of the hosted section": plan.side_by_side().__dict__,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "os": sys.platform,
            "load average at start (1, 5, 15 min)": _load(),
            "trust store": trust_store(),
        }
    )
    began = time.perf_counter()
    upstream = UpstreamProcess(plan.delay)
    try:
        with tempfile.TemporaryDirectory(prefix="vertex-bench-") as home:
            env = bridge_env(Path(home), upstream.url)
            oauth_env = bridge_env(Path(home), upstream.url, token=None)
            before = _before(args.before, Path(home), report)
            if args.only is None:
                measure_startup(report, plan, env, oauth_env)
                anyio.run(measure_calls, report, plan, env, upstream, before)
                anyio.run(measure_tokens, report, plan, upstream.url)
                anyio.run(measure_journal, report, plan, upstream.url)
                anyio.run(measure_team_journal, report, plan, upstream.url)
                anyio.run(measure_policy, report, plan)
            if args.only == "journal":
                anyio.run(measure_journal, report, plan, upstream.url)
                anyio.run(measure_team_journal, report, plan, upstream.url)
            else:
                anyio.run(measure_hosted, report, plan.side_by_side(), env, Path(home), before)
    finally:
        upstream.close()
    report.info["seconds"] = round(time.perf_counter() - began, 1)
    report.info["load average at end (1, 5, 15 min)"] = _load()
    sys.stdout.write(render(report))
    start, end = (report.info[f"load average at {w} (1, 5, 15 min)"] for w in ("start", "end"))
    sys.stdout.write(
        f"\nupstream delay {plan.delay * 1000:g} ms; {os.cpu_count()} CPUs; took {report.info['seconds']} s; "
        f"load average (1, 5, 15 min) {start} at the start, {end} at the end\n"
        f"trust store: {report.info['trust store']}\n"
    )
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
