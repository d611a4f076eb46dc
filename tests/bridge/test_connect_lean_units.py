"""``cached_manifest``: the lean front serves a cached offer only with the SDK's answers for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp.server import Server

from vertex_stdio.bridge.leanoffer import ANSWERS_FILE, OFFER_FILE, cached_manifest, remember_answers
from vertex_stdio.bridge.offer import Offer, OfferCache
from vertex_stdio.bridge.selection import ToolFilter
from vertex_stdio.mcpio.answers import opening, sdk_answers
from vertex_stdio.mcpio.lean import Manifest

pytestmark = pytest.mark.anyio
TOOLS = [
    {"name": "search", "inputSchema": {"type": "object"}},
    {"name": "slow", "inputSchema": {"type": "object"}},
]


async def _kept(folder: Path) -> tuple[Offer, Any]:
    from mcp.server.models import InitializationOptions
    from mcp.types import ServerCapabilities

    offer = Offer({"tools": {}}, {"name": "remote", "version": "2"}, "Be kind.", {"tools": TOOLS}, 1.0)
    OfferCache(folder).save(offer)
    options = InitializationOptions(
        server_name="remote",
        server_version="2",
        capabilities=ServerCapabilities.model_validate({"tools": {"listChanged": True}}),
        instructions="Be kind.",
    )
    await remember_answers(folder, offer.to_json(), Server("x"), options)
    return offer, options


def _manifest(folder: Path, tools: ToolFilter | None = None) -> Manifest | None:
    return cached_manifest(folder, tools or ToolFilter(), 1 << 20)


async def test_the_kept_answers_are_the_sdks_and_the_list_is_the_cache_filtered(tmp_path: Path) -> None:
    _, options = await _kept(tmp_path)
    manifest = _manifest(tmp_path, ToolFilter.of(None, ["slow"]))
    assert manifest is not None
    for version in manifest.versions:
        (answer,) = await sdk_answers(Server("x"), opening(version, tools=False), options)
        assert manifest.initialize[version] == answer["result"]
        assert manifest.tools[version] == {"tools": TOOLS[:1]}


async def test_answers_for_other_words_or_versions_or_no_answers_are_not_used(tmp_path: Path) -> None:
    await _kept(tmp_path)
    assert _manifest(tmp_path) is not None
    answers = json.loads((tmp_path / ANSWERS_FILE).read_text())
    offer = json.loads((tmp_path / OFFER_FILE).read_text())
    for key, value in (("vertex_stdio", "0.0.0"), ("mcp", "1.0")):
        (tmp_path / ANSWERS_FILE).write_text(
            json.dumps({**answers, "source": {**answers["source"], key: value}})
        )
        assert _manifest(tmp_path) is None
    (tmp_path / ANSWERS_FILE).write_text(json.dumps(answers))
    (tmp_path / OFFER_FILE).write_text(json.dumps({**offer, "instructions": "Be unkind."}))
    assert _manifest(tmp_path) is None  # the remote's words changed: the SDK answers, and keeps anew
    (tmp_path / OFFER_FILE).write_text(json.dumps({**offer, "lists": []}))
    assert _manifest(tmp_path) is None  # an offer the cache would not load
    (tmp_path / OFFER_FILE).write_text(json.dumps(offer))
    (tmp_path / ANSWERS_FILE).unlink()
    assert _manifest(tmp_path) is None
