"""``earlycall``'s SDK-free judgement held to the SDK's own: a result it answers at once is one the
SDK client gives back unchanged.  (Its answers to the remote's requests are compared with the SDK
client's own in tests/bridge/test_connect_early_calls.py, through what the remote received.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from vertex_stdio.bridge.earlycall import EarlyLink, plain_result
from vertex_stdio.bridge.joined import sdk_result

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
TEXT = {"type": "text", "text": "hi ü"}
RESULTS: list[dict[str, Any]] = [
    {"content": []},
    {"content": [TEXT]},
    {"content": [TEXT, TEXT], "isError": True},
    {"content": [TEXT], "isError": False, "structuredContent": {"a": [1, None]}},
    {"content": [TEXT], "_meta": {"k": "v"}},
    {"content": [TEXT], "resultType": "complete"},
    {"content": [TEXT], "resultType": "input_required"},
    {"content": [TEXT], "resultType": 1},
    {"content": [TEXT], "isError": None},
    {"content": [TEXT], "isError": "no"},
    {"content": [TEXT], "structuredContent": [1]},
    {"content": [TEXT], "structuredContent": None},
    {"content": [{"type": "text", "text": 1}]},
    {"content": [{"type": "image", "data": "", "mimeType": "image/png"}]},
    {"content": [{**TEXT, "annotations": {"priority": 1}}]},
    {"content": "text"},
    {"content": [TEXT], "ttlMs": -1},
    {"content": [TEXT], "inputRequests": {}},
    {"content": [TEXT], "_meta": 1},
    {"isError": False},
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("raw", RESULTS)
def test_a_plain_result_is_one_the_sdk_gives_back_unchanged(raw: dict[str, Any], version: str) -> None:
    with_resulttype = (
        {**raw, "resultType": raw.get("resultType", "complete")} if version == "2026-07-28" else raw
    )
    for result in (raw, with_resulttype):
        if not plain_result(copy.deepcopy(result), version):
            continue
        try:
            given = sdk_result("tools/call", copy.deepcopy(result), version)
        except ValidationError as exc:
            raise AssertionError(f"answered at once, but the SDK refuses it: {result}") from exc
        assert given == result


def test_the_plain_successes_people_get_are_answered_at_once() -> None:
    assert plain_result({"content": [TEXT], "isError": False}, "2025-11-25")
    assert plain_result({"content": [TEXT], "resultType": "complete", "_meta": {}}, "2026-07-28")
    assert not plain_result({"content": [TEXT]}, "2026-07-28")  # resultType is required there
    assert not plain_result({"content": [TEXT]}, None)


def test_a_declaring_client_is_taken_only_with_something_to_relay_its_requests() -> None:
    """A client that declared roots, sampling or elicitation gets the early path only when the
    remote's requests for it can be answered as the link's SDK client answers them (a relay)."""

    async def relay(request: dict[str, Any], version: str, ask: Any) -> dict[str, Any] | None:
        return None

    def link() -> EarlyLink:
        return EarlyLink("http://127.0.0.1:1/mcp", {}, lambda: None, timeout=1.0, max_answer=1)  # type: ignore[arg-type,return-value]

    assert not link().declares({"roots": {"listChanged": True}})
    assert link().declares({"roots": {"listChanged": True}}, relay)
    assert link().declares({})  # nothing declared: nothing to relay
    assert not link().declares(None, relay)  # not known
