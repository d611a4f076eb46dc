"""``connect``'s lean front: its cached offer, and the SDK's ``initialize`` answers for it.

``connect`` answers ``initialize`` with the remote's own words (from the cached offer) and
``tools/list`` from the cache as the remote wrote it.  The list needs no SDK; the
``initialize`` answer is the SDK's (its models and its per-version sieve), so each run that
serves from a cached offer also keeps what the SDK answers for that offer in ``answers.json``
(``remember_answers``, once per offer: keyed on the offer's words and both versions).  The
next start reads both files without the SDK (``cached_manifest``) and the lean front
(``mcpio.lean``) answers from them while the SDK loads.  Plain Python at import.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vertex_stdio import __version__
from vertex_stdio.bridge.selection import ToolFilter
from vertex_stdio.mcpio.lean import Manifest

if TYPE_CHECKING:
    from mcp.server import Server
    from mcp.server.models import InitializationOptions

log = logging.getLogger(__name__)

OFFER_FILE = "offer.json"
OFFER_VERSION = 1
ANSWERS_FILE = "answers.json"


def cached_manifest(folder: Path, tools: ToolFilter, max_bytes: int) -> Manifest | None:
    """The lean front's manifest from ``folder``'s offer and answers; None unless both are there,
    the answers are for this offer and these versions, and the offer is one the cache would load."""
    offer, answers = _read(folder / OFFER_FILE, max_bytes), _read(folder / ANSWERS_FILE, max_bytes)
    if not isinstance(offer, dict) or not isinstance(answers, dict) or not _loadable(offer):
        return None
    if answers.get("source") != _source(offer, _sdk_version()):
        return None
    items = offer["lists"].get("tools", [])
    listed = {
        "tools": tools.tools([i for i in items if isinstance(i, dict)] if isinstance(items, list) else [])
    }
    versions, initialize = answers.get("versions"), answers.get("initialize")
    if not isinstance(versions, list) or not versions or not isinstance(initialize, dict):
        return None
    if set(initialize) != set(versions):
        return None
    return Manifest(tuple(versions), initialize, {v: listed for v in versions})


async def remember_answers(
    folder: Path, offer: dict[str, Any], server: Server[Any], options: InitializationOptions
) -> None:
    """Keep the SDK's ``initialize`` answers for ``offer`` (served with ``options``), unless kept already."""
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    from vertex_stdio.core.privatefs import write_private
    from vertex_stdio.mcpio.answers import opening, sdk_answers

    source = _source(offer, _sdk_version())
    kept = _read(folder / ANSWERS_FILE, 1 << 24)
    if isinstance(kept, dict) and kept.get("source") == source:
        return
    initialize = {}
    for version in HANDSHAKE_PROTOCOL_VERSIONS:
        (answer,) = await sdk_answers(server, opening(version, tools=False), options)
        if "result" not in answer:
            return
        initialize[version] = answer["result"]
    text = json.dumps(
        {"source": source, "versions": list(HANDSHAKE_PROTOCOL_VERSIONS), "initialize": initialize}
    )
    try:
        write_private(folder / ANSWERS_FILE, text)
    except OSError as exc:
        log.info("could not keep the initialize answers for the next start (%s)", exc)


def _source(offer: dict[str, Any], sdk: str) -> dict[str, Any]:
    """What the ``initialize`` answer depends on: the offer's words and the two versions."""
    words = {key: offer.get(key) for key in ("capabilities", "server_info", "instructions")}
    return {**words, "vertex_stdio": __version__, "mcp": sdk}


def _loadable(offer: dict[str, Any]) -> bool:
    """The shape ``bridge.offer.Offer.from_json`` loads (the capabilities are checked through the
    answers' source: they were loaded, validated, when the answers were made)."""
    instructions, fetched_at = offer.get("instructions"), offer.get("fetched_at") or 0.0
    return (
        offer.get("version") == OFFER_VERSION
        and all(isinstance(offer.get(k), dict) for k in ("capabilities", "server_info", "lists"))
        and (instructions is None or isinstance(instructions, str))
        and isinstance(fetched_at, int | float)
    )


def _read(path: Path, max_bytes: int) -> Any:
    try:
        if path.stat().st_size > max_bytes:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _sdk_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return "unknown"
