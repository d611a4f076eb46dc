"""The README's conformance table says what the suite test expects: every scenario named once,
"yes" for each that must pass, "no" (with its RFC) for each strict xfail, and the count in the
sentence above it."""

from __future__ import annotations

import re
from pathlib import Path

from test_conformance_suite import EXPECTED_FAILURES, SCENARIOS

README = Path(__file__).resolve().parents[3] / "README.md"


def table() -> dict[str, str]:
    """scenario -> the table's "passes" cell, with "-suffix" shorthands expanded to full names."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- conformance: start -->"), text.index("<!-- conformance: end -->")
    rows: dict[str, str] = {}
    for line in text[start:end].splitlines()[3:]:  # after the marker, the header and its rule
        names, passes = (cell.strip() for cell in line.strip("|").split("|")[:2])
        full = ""
        for name in (part.strip() for part in names.split(",")):
            if name.startswith("-"):
                stem = full.split("-")[0]
                [name] = [s for s in SCENARIOS if s.startswith(stem) and s.endswith(name)]
            full = name
            assert name not in rows, name
            rows[name] = passes
    return rows


def test_the_readme_table_names_every_scenario_with_its_expected_result() -> None:
    rows = table()
    assert sorted(rows) == sorted(SCENARIOS)
    for name, passes in rows.items():
        if name in EXPECTED_FAILURES:
            assert passes.startswith("**no"), name
        else:
            assert passes == "yes", name
    passing = len(SCENARIOS) - len(EXPECTED_FAILURES)
    assert re.search(rf"\*\*{passing} of\s+{len(SCENARIOS)}\*\* pass", README.read_text(encoding="utf-8"))
