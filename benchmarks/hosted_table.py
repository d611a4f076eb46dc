"""Section 6 of one run (``run.py --json PATH``) as the Markdown tables README shows: the run's
plan and load, every bridge's figures, and issue 22's targets against mcp-remote, each met or not.

    uv run python benchmarks/hosted_table.py PATH

Nothing is typed by hand: README's table is this output, pasted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sidebyside import SECTION

# (the figure's suffix after "BRIDGE: ", its column title)
COLUMNS = (
    ("spawn -> tools/list", "spawn → `tools/list`"),
    ("spawn -> first tools/call answered", "spawn → first call"),
    ("p50 over direct", "p50 over direct"),
    ("CPU per call", "CPU per call"),
    ("200-call burst, raw pipe", "200-call burst"),
    ("CPU per call in a burst", "CPU per call in a burst"),
    ("peak RSS", "peak RSS"),
)


def _value(figure: dict[str, Any]) -> str:
    unit, median = figure["unit"], figure["median"]
    shown = f"{median:.2f} s" if unit == "s" else f"{median:.1f} {unit}"
    return f"{shown} ({figure['runs']})" if figure["runs"] > 1 else shown


def figures_table(report: dict[str, Any]) -> list[str]:
    """One row per bridge: the median of each figure and (in brackets) how many rounds it is of."""
    figures = report["sections"].get(SECTION, [])
    bridges: dict[str, dict[str, str]] = {}
    for figure in figures:
        bridge, _, what = figure["name"].rpartition(": ")
        if bridge and not bridge.startswith("baseline"):
            bridges.setdefault(bridge, {})[what] = _value(figure)
    lines = [
        "| bridge | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for bridge, row in bridges.items():
        lines.append(f"| {bridge} | " + " | ".join(row.get(key, "") for key, _ in COLUMNS) + " |")
    return lines


def _shown(target: dict[str, Any]) -> tuple[str, str]:
    if target["skipped"] is not None:
        return "skipped: " + target["skipped"], "—"
    unit, value, limit = target["unit"], target["value"], target["limit"]
    digits = {"x": ".2f", "failed": "g"}.get(unit, ".1f")
    number = "-" if value is None else format(value, digits)
    return f"{number} {unit} (limit {limit:g} {unit})", "yes" if target["met"] else "**NOT MET**"


def targets_table(report: dict[str, Any]) -> list[str]:
    """Section 6's targets (those the side-by-side run sets), met or not."""
    hosted = [
        t
        for t in report["targets"]
        if "mcp-remote" in t["name"] or t["name"].startswith(("hosted", "peak RSS <= 80 MB: vertex-stdio"))
    ]
    lines = ["| target | this run | met |", "|---|---|---|"]
    for target in hosted:
        shown, met = _shown(target)
        lines.append(f"| {target['name']} | {shown} | {met} |")
    return lines


def heading(report: dict[str, Any]) -> str:
    info = report["info"]
    plan = info.get("plan of the hosted section", info["plan"])
    return (
        f"Python {info['python']}, {info['cpus']} CPUs, {info['seconds']} s; load average (1, 5, 15 min) "
        f"{info['load average at start (1, 5, 15 min)']} at the start, "
        f"{info['load average at end (1, 5, 15 min)']} at the end; hosted section: "
        f"{plan['startup_runs']} start-up rounds, {plan['call_blocks']} blocks of {plan['calls_per_block']} "
        f"sequential calls, {plan['bursts']} bursts of {plan['burst_size']}"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: hosted_table.py PATH (the JSON of run.py --json PATH)\n")
        return 2
    report = json.loads(Path(argv[0]).read_text())
    out = [heading(report), "", *figures_table(report), "", *targets_table(report)]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
