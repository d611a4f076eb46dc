"""A doctor's finding (``Check``) and how a list of them is shown: aligned text or one JSON object."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal, TextIO

from vertex_stdio.core.redact import redact

Status = Literal["ok", "warn", "fail", "skip"]
_MARK: dict[str, str] = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    """One finding: a short name, its status, one line on what was seen, one on how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def passed(checks: list[Check]) -> bool:
    """True when nothing failed (warnings and skipped checks are allowed)."""
    return all(check.status != "fail" for check in checks)


def write_json(checks: list[Check], out: TextIO) -> None:
    """``{"ok": bool, "checks": [{"name", "status", "detail", "fix"}, ...]}`` on one line."""
    shown = [{k: redact(v) for k, v in asdict(c).items()} for c in checks]
    out.write(json.dumps({"ok": passed(checks), "checks": shown}) + "\n")


def write_text(checks: list[Check], out: TextIO) -> None:
    """One aligned line per check, its fix indented below it, then a one-line verdict."""
    width = max((len(c.name) for c in checks), default=0)
    for check in checks:  # a detail may quote a server's answer: redacted like every such text
        out.write(f"[{_MARK[check.status]:>4}] {check.name:<{width}}  {redact(check.detail)}\n")
        if check.fix and check.status != "ok":
            out.write(f"       {'':<{width}}  fix: {redact(check.fix)}\n")
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        out.write(f"\n{len(failed)} problem(s) to fix: {', '.join(failed)}.\n")
    elif any(c.status == "skip" and c.detail.startswith("offline") for c in checks):
        out.write(
            "\nNothing to fix here, but the network checks were skipped (offline); run doctor again online.\n"
        )
    else:
        out.write("\nEverything vertex-stdio needs is in place.\n")
