"""What a remote MCP server offers, kept in its state folder so the next start answers at once.

``Offer`` holds the remote's capabilities, server info, instructions and its four lists exactly
as the remote wrote them (JSON).  ``OfferCache`` reads and atomically replaces ``offer.json``;
a damaged, oddly shaped or oversized file is logged (a warning) and treated as absent, so the
lists are fetched again: a bad cache never stops a start.  Nothing secret is ever in it.

Bounds: ``fetch_list`` stops a list that grows past its cap (each list is served as one answer,
so the cap is the per-answer cap), and the cache never holds more than ``max_bytes`` in all:
what a remote offers can never grow the process, the file or a line on stdout without bound.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcp.types import ServerCapabilities
from pydantic import ValidationError

from vertex_stdio.bridge.leanoffer import OFFER_FILE, OFFER_VERSION
from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.core.privatefs import write_private

log = logging.getLogger(__name__)

MAX_CACHE_BYTES = 8 * 1024 * 1024
"""The most the cached offer holds (all lists together), unless ``connect --max-cache-mib`` says."""
MAX_PAGES = 100
"""A remote that pages forever cannot hold us."""
Fetch = Callable[[str, Mapping[str, Any] | None], Awaitable[dict[str, Any]]]
LISTS = {
    "tools": ("tools/list", "tools"),
    "resources": ("resources/list", "resources"),
    "templates": ("resources/templates/list", "resourceTemplates"),
    "prompts": ("prompts/list", "prompts"),
}
"""Our name for each list → (the method that fetches it, the result's key)."""
CHANGED = {"tools": "notifications/tools/list_changed", "prompts": "notifications/prompts/list_changed"}
RESOURCES_CHANGED = "notifications/resources/list_changed"


@dataclass(frozen=True)
class Offer:
    """The remote's self-description and lists (each item as the remote wrote it)."""

    capabilities: dict[str, Any]
    server_info: dict[str, Any]
    instructions: str | None
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fetched_at: float = 0.0

    def items(self, name: str) -> list[dict[str, Any]]:
        return self.lists.get(name, [])

    def with_list(self, name: str, items: list[dict[str, Any]]) -> Offer:
        return replace(self, lists={**self.lists, name: items}, fetched_at=time.time())

    def tool(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.items("tools") if t.get("name") == name), None)

    def changed(self, other: Offer | None) -> list[str]:
        """Which lists differ from ``other`` (all of them when there was none)."""
        if other is None:
            return list(LISTS)
        return [name for name in LISTS if self.items(name) != other.items(name)]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": OFFER_VERSION,
            "capabilities": self.capabilities,
            "server_info": self.server_info,
            "instructions": self.instructions,
            "lists": self.lists,
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> Offer | None:
        """The offer a cache file holds, or None when any part of it has the wrong shape."""
        if not isinstance(data, dict) or data.get("version") != OFFER_VERSION:
            return None
        caps, info, lists = data.get("capabilities"), data.get("server_info"), data.get("lists")
        instructions, fetched_at = data.get("instructions"), data.get("fetched_at") or 0.0
        if not (isinstance(caps, dict) and isinstance(info, dict) and isinstance(lists, dict)):
            return None
        if instructions is not None and not isinstance(instructions, str):
            return None
        if not isinstance(fetched_at, int | float) or not _valid_capabilities(caps):
            return None
        clean = {
            k: [i for i in v if isinstance(i, dict)]
            for k, v in lists.items()
            if k in LISTS and isinstance(v, list)
        }
        return cls(caps, info, instructions, clean, float(fetched_at))


def offered(capabilities: Mapping[str, Any], name: str) -> bool:
    """Whether the remote's capabilities offer the list ``name`` (``LISTS``)."""
    return ("resources" if name == "templates" else name) in capabilities


def _valid_capabilities(caps: dict[str, Any]) -> bool:
    """What ``initialize`` answers is built from these, so they must be capabilities."""
    try:
        ServerCapabilities.model_validate(caps)
    except ValidationError:
        return False
    return True


def size_of(value: Any) -> int:
    """Bytes ``value`` takes as compact ASCII JSON (no smaller than the UTF-8 we write or serve)."""
    return len(json.dumps(value, separators=(",", ":")))


async def fetch_list(fetch: Fetch, name: str, *, limit: int, host: str, option: str) -> list[dict[str, Any]]:
    """Every page of the list ``name`` (``LISTS``); ``UpstreamError`` once it passes ``limit`` bytes.

    ``option`` is the command-line option that raises the limit, for the error's advice.
    """
    method, key = LISTS[name]
    items: list[dict[str, Any]] = []
    size, cursor = 2, None
    for _page in range(MAX_PAGES):
        result = await fetch(method, {"cursor": cursor} if cursor else None)
        raw = result.get(key)
        page = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
        size += sum(size_of(i) + 1 for i in page)
        if size > limit:
            raise UpstreamError(
                f"{host} offers more {key} than vertex-stdio keeps ({limit / 1_048_576:.3g} MiB), so "
                f"they were not loaded (what was cached before stays). If you trust {host}, start "
                f"connect with a larger {option}."
            )
        items += page
        cursor = result.get("nextCursor") if isinstance(result.get("nextCursor"), str) else None
        if not cursor:
            break
    return items


class OfferCache:
    """``offer.json`` in one server's state folder, never larger than ``max_bytes``."""

    def __init__(self, folder: Path, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.path = folder / OFFER_FILE
        self.max_bytes = max_bytes

    def load(self) -> Offer | None:
        """The cached offer; None (with a warning) when there is none usable, never an exception."""
        try:
            if self.path.stat().st_size > self.max_bytes:
                log.warning(
                    "the cached offer %s is larger than %g MiB; it is ignored and fetched again",
                    self.path,
                    self.max_bytes / 1_048_576,
                )
                return None
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as exc:
            log.warning(
                "the cached offer %s is damaged (%s); it is fetched again", self.path, type(exc).__name__
            )
            return None
        offer = Offer.from_json(data)
        if offer is None:
            log.warning("the cached offer %s has an unknown layout; it is fetched again", self.path)
        return offer

    def save(self, offer: Offer) -> None:
        """Replace the file; an offer over ``max_bytes`` is ``UpstreamError`` and nothing is written."""
        text = json.dumps(offer.to_json(), separators=(",", ":"))
        if len(text) > self.max_bytes:
            raise UpstreamError(
                f"What the server offers takes more than {self.max_bytes / 1_048_576:g} MiB, so it was "
                "not kept. If you trust the server, start connect with a larger --max-cache-mib."
            )
        try:
            write_private(self.path, text)
        except OSError as exc:
            log.warning("could not cache what the server offers (%s); the next start fetches it again", exc)
