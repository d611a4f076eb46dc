"""What a remote MCP server offers, kept in its state folder so the next start answers at once.

``Offer`` holds the remote's capabilities, server info, instructions and its four lists exactly
as the remote wrote them (JSON).  ``OfferCache`` reads and atomically replaces ``offer.json``;
a damaged file is logged and treated as absent.  Nothing secret is ever in it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vertex_stdio.core.privatefs import write_private

log = logging.getLogger(__name__)

OFFER_FILE = "offer.json"
OFFER_VERSION = 1
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
        if not isinstance(data, dict) or data.get("version") != OFFER_VERSION:
            return None
        caps, info, lists = data.get("capabilities"), data.get("server_info"), data.get("lists")
        instructions = data.get("instructions")
        if not (isinstance(caps, dict) and isinstance(info, dict) and isinstance(lists, dict)):
            return None
        if instructions is not None and not isinstance(instructions, str):
            return None
        clean = {
            k: [i for i in v if isinstance(i, dict)]
            for k, v in lists.items()
            if k in LISTS and isinstance(v, list)
        }
        return cls(caps, info, instructions, clean, float(data.get("fetched_at") or 0.0))


class OfferCache:
    """``offer.json`` in one server's state folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / OFFER_FILE

    def load(self) -> Offer | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning(
                "the cached offer %s is damaged (%s); it is fetched again", self.path, type(exc).__name__
            )
            return None
        offer = Offer.from_json(data)
        if offer is None:
            log.warning("the cached offer %s has an unknown layout; it is fetched again", self.path)
        return offer

    def save(self, offer: Offer) -> None:
        try:
            write_private(self.path, json.dumps(offer.to_json(), separators=(",", ":")))
        except OSError as exc:
            log.warning("could not cache what the server offers (%s); the next start fetches it again", exc)
