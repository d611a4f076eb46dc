"""Small statistics and the table: medians, percentiles, spreads, targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Figure:
    """One measured quantity: its samples (one per run), in ``unit``."""

    name: str
    unit: str
    samples: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.samples), max(self.samples)) if self.samples else (float("nan"), float("nan"))

    def as_json(self) -> dict[str, Any]:
        low, high = self.spread
        return {**asdict(self), "median": self.median, "min": low, "max": high, "runs": len(self.samples)}


@dataclass
class Target:
    """A target: ``value`` compared with ``limit`` (``value <= limit`` meets it)."""

    name: str
    value: float | None
    limit: float
    unit: str
    why: str = ""
    skipped: str | None = None

    @property
    def met(self) -> bool | None:
        if self.skipped is not None or self.value is None:
            return None
        return self.value <= self.limit

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass
class Report:
    sections: dict[str, list[Figure]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, figure: Figure) -> Figure:
        self.sections.setdefault(section, []).append(figure)
        return figure

    def as_json(self) -> dict[str, Any]:
        return {
            "info": self.info,
            "sections": {k: [f.as_json() for f in v] for k, v in self.sections.items()},
            "targets": [t.as_json() for t in self.targets],
        }


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "-"
    if unit in ("ms", "MB"):
        return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    if unit in ("x", "s"):
        return f"{value:.2f}"
    return f"{value:g}"


def render(report: Report) -> str:
    """The human-readable table."""
    lines = []
    for section, figures in sorted(report.sections.items()):
        lines.append(f"\n{section}")
        width = max(len(f.name) for f in figures)
        for f in figures:
            low, high = f.spread
            runs = len(f.samples)
            spread = f"[{_num(low, f.unit)} .. {_num(high, f.unit)}]" if runs > 1 else ""
            median = _num(f.median, f.unit)
            note = f"  {f.note}" if f.note else ""
            lines.append(f"  {f.name:<{width}}  {median:>8} {f.unit:<4} {spread:<22} n={runs}{note}")
    lines.append("\nTargets")
    width = max(len(t.name) for t in report.targets)
    for t in report.targets:
        if t.skipped is not None:
            verdict, shown = "SKIPPED", t.skipped
        else:
            verdict = "met" if t.met else "NOT MET"
            value = "-" if t.value is None else _num(t.value, t.unit)
            shown = f"{value} {t.unit} (limit {_num(t.limit, t.unit)} {t.unit})"
        why = f"  {t.why}" if t.why else ""
        lines.append(f"  {t.name:<{width}}  {verdict:<8} {shown}{why}")
    return "\n".join(lines) + "\n"
