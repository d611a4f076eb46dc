"""``connect``'s bounds in pieces: the answer cap, the list and cache caps, a cache read defensively,
and calm refreshes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from vertex_stdio.bridge.calm import Calm
from vertex_stdio.bridge.offer import Offer, OfferCache, fetch_list
from vertex_stdio.core.errors import UpstreamError

pytestmark = pytest.mark.anyio


async def test_a_list_stops_at_its_limit_however_the_remote_pages_it() -> None:
    """100 pages of 300 kB against a 1 MB limit: four pages are read, then UPSTREAM_ERROR naming the option."""
    asked: list[Mapping[str, Any] | None] = []

    async def fetch(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        asked.append(params)
        page = int((params or {}).get("cursor", "0"))
        tools = [{"name": f"t{page}-{i}", "description": "x" * 30_000} for i in range(10)]
        return {"tools": tools, "nextCursor": str(page + 1)}

    with pytest.raises(UpstreamError, match="--max-answer-mib") as caught:
        await fetch_list(fetch, "tools", limit=1_000_000, host="mcp.example", option="--max-answer-mib")
    assert len(asked) == 4
    assert "mcp.example" in caught.value.message

    async def odd(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"tools": {"not": "a list"}, "nextCursor": 7}

    assert await fetch_list(odd, "tools", limit=1000, host="h", option="o") == []


def test_the_cache_is_read_defensively(tmp_path: Path) -> None:
    """Damaged, oddly shaped or oversized files read as no cache (a warning), never an exception."""
    cache = OfferCache(tmp_path, max_bytes=10_000)
    good = Offer({"tools": {}}, {"name": "r"}, None, {"tools": [{"name": "a"}]}, 1.0)
    cache.save(good)
    assert cache.load() == good
    base = good.to_json()
    shapes: list[Any] = [
        "{not json",
        "[]",
        {**base, "capabilities": {"tools": 5}},
        {**base, "capabilities": "all"},
        {**base, "fetched_at": "yesterday"},
        {**base, "lists": []},
        {**base, "instructions": 7},
        {**base, "version": 99},
        "[" * 9_000,  # nested past the parser's recursion limit
    ]
    for shape in shapes:
        cache.path.write_text(shape if isinstance(shape, str) else json.dumps(shape))
        assert cache.load() is None, shape
    cache.path.write_text(json.dumps({**base, "instructions": "x" * 20_000}))
    assert cache.load() is None  # over max_bytes: not even read
    cache.path.write_bytes(b"\xff\xfe")
    assert cache.load() is None


def test_an_offer_over_the_cache_cap_is_not_written(tmp_path: Path) -> None:
    """Saving more than ``max_bytes`` is UPSTREAM_ERROR naming --max-cache-mib; the old file stays."""
    cache = OfferCache(tmp_path, max_bytes=10_000)
    small = Offer({"tools": {}}, {"name": "r"}, None, {"tools": [{"name": "a"}]}, 1.0)
    cache.save(small)
    with pytest.raises(UpstreamError, match="--max-cache-mib"):
        cache.save(small.with_list("tools", [{"name": "b", "description": "x" * 20_000}]))
    assert cache.load() == small


async def test_calm_runs_at_most_one_and_one_more() -> None:
    """2,000 requests while a run is under way make one more run, not 2,000."""
    runs: list[int] = []
    gate = anyio.Event()

    async def job() -> None:
        runs.append(len(runs))
        await gate.wait()

    calm = Calm(job, settle=0)
    async with anyio.create_task_group() as tg:
        calm.request(tg)
        with anyio.fail_after(5):
            while not runs:
                await anyio.sleep(0.01)
        for _ in range(2000):
            calm.request(tg)
        gate.set()
    assert runs == [0, 1]
    async with anyio.create_task_group() as tg:
        calm.request(tg)
    assert runs == [0, 1, 2]  # idle again: the next request runs
