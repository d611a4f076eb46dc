"""The recipient's local time: a country's time zones (from the system's or ``tzdata``'s
``zone.tab``) and whether quiet hours hold in any of them."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from importlib import resources
from pathlib import Path


@functools.cache
def _table() -> dict[str, tuple[str, ...]] | None:
    """Country (ISO alpha-2) -> its zone names; None when no ``zone.tab`` is installed."""
    text = None
    for root in zoneinfo.TZPATH:
        candidate = Path(root) / "zone.tab"
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            break
    if text is None:
        try:  # Windows has no system database: the tzdata package carries one
            text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError, OSError):
            return None
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            zones.setdefault(fields[0], []).append(fields[2])
    return {country: tuple(names) for country, names in zones.items()}


def zones_of(country: str) -> tuple[str, ...] | None:
    """The zone names of ``country`` (empty when unknown); None when there is no time zone database."""
    table = _table()
    return None if table is None else table.get(country, ())


def minutes(text: str) -> int:
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


def inside(clock: int, span: str) -> bool:
    """Whether ``clock`` (minutes after midnight) lies in ``span`` (``"21:00-08:00"``; may wrap)."""
    start, end = (minutes(part) for part in span.split("-"))
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end


def quiet_zone(now: float, zones: tuple[str, ...], span: str) -> tuple[str, str] | None:
    """The first of ``zones`` whose local time at ``now`` is inside ``span``: (zone, its HH:MM)."""
    for name in zones:
        local = datetime.fromtimestamp(now, zoneinfo.ZoneInfo(name))
        if inside(local.hour * 60 + local.minute, span):
            return name, local.strftime("%H:%M")
    return None
