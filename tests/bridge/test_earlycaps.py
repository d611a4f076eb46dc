"""``earlycaps.upstream`` held to the SDK: for each local client's capabilities, what the link's SDK
client declares (``LocalPeer.callbacks()`` given to ``ClientSession``, ``_build_capabilities``
dumped as the SDK dumps it, at every version) is what the early session declares -- or the early
path stays off (None), and then for every shape the SDK's own model refuses."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.types import ClientCapabilities
from pydantic import ValidationError

from vertex_stdio.bridge.earlycaps import upstream
from vertex_stdio.bridge.relay import LocalPeer

VERSIONS = ("2025-06-18", "2025-11-25", "2026-07-28")
TAKEN: list[Any] = [
    {},
    {"roots": {}},
    {"roots": {"listChanged": True}},
    {"roots": {"listChanged": False}},
    {"roots": {"listChanged": None}},
    {"roots": {"other": [1]}},
    {"roots": None},
    {"elicitation": {}},
    {"elicitation": {"form": {}}},
    {"elicitation": {"url": {}}},
    {"elicitation": {"form": {}, "url": {}}},
    {"sampling": {}},
    {"sampling": {"context": {}}},
    {"sampling": {"tools": {}}},
    {"sampling": {"tools": {}, "context": {}}},
    {"sampling": {}, "elicitation": {}, "roots": {"listChanged": True}},
    {"roots": {}, "experimental": {"x": {}}, "tasks": {}},
]
OFF: list[Any] = [  # shapes this does not prove: the early path stays off
    {"roots": {"listChanged": "true"}},
    {"roots": {"listChanged": 1}},
    {"roots": []},
    {"roots": True},
    {"sampling": {"context": {"x": 1}}},
    {"sampling": {"tools": []}},
    {"elicitation": {"form": {"x": 1}}},
    {"elicitation": {"url": "yes"}},
    {"elicitation": 1},
    [],
    None,
]
DECLARED = TAKEN + OFF


def _sdk(local: Any, version: str) -> dict[str, Any] | None:
    """What the link's SDK client declares for ``local`` at ``version`` (None: its model refuses it)."""
    try:
        caps = ClientCapabilities.model_validate(local)
    except ValidationError:
        return None
    peer = LocalPeer(lambda: cast(Any, SimpleNamespace(client_capabilities=caps)))
    write, read = anyio.create_memory_object_stream[Any](1)
    with write, read:
        built = ClientSession(read, write, **peer.callbacks())._build_capabilities(version)
    return built.model_dump(by_alias=True, mode="json", exclude_none=True)


@pytest.mark.parametrize("local", DECLARED, ids=[json.dumps(d) for d in DECLARED])
def test_the_early_session_declares_what_the_links_sdk_client_declares(local: Any) -> None:
    ours = upstream(local)
    for version in VERSIONS:
        theirs = _sdk(local, version)
        if ours is not None:
            assert json.dumps(ours) == json.dumps(theirs), version  # the same keys, in the same order
    taken = json.dumps(local) in {json.dumps(t) for t in TAKEN}  # (1 == True: compared as JSON)
    assert (ours is not None) == taken  # a plain declaration: the early path takes it


def test_a_shape_the_sdk_refuses_is_never_declared() -> None:
    for local in DECLARED:
        if _sdk(local, "2025-11-25") is None:
            assert upstream(local) is None, local
