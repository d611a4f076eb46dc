"""Which of the remote's tools are served: ``--tools`` / ``--exclude-tools`` glob patterns.

A tool is served when it matches one of the ``include`` patterns (all, when none are given) and
none of the ``exclude`` ones; patterns are shell globs matched case-sensitively (``fnmatchcase``).
What is not served is neither listed nor callable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class ToolFilter:
    """The person's choice of tools (empty: every tool)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, include: Iterable[str] | None, exclude: Iterable[str] | None) -> ToolFilter:
        """From repeated or comma-separated options (``--tools 'get_*,list_*'``)."""

        def split(values: Iterable[str] | None) -> tuple[str, ...]:
            return tuple(p.strip() for v in values or () for p in v.split(",") if p.strip())

        return cls(split(include), split(exclude))

    def allows(self, name: str) -> bool:
        if self.include and not any(fnmatchcase(name, pattern) for pattern in self.include):
            return False
        return not any(fnmatchcase(name, pattern) for pattern in self.exclude)

    def tools(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The listed tools that are served."""
        return [tool for tool in items if self.allows(str(tool.get("name")))]
