"""The checked-in tools manifest is what the SDK answers today, and a stale one is never used."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from vertex_stdio import __version__
from vertex_stdio.vertexsms.manifest import MANIFEST, generate, load


def test_the_checked_in_manifest_is_the_one_the_sdk_generates() -> None:
    """Regenerated from the real server and the SDK: a tool whose words change needs a new manifest
    (``uv run python -m vertex_stdio.vertexsms.manifest``)."""
    written = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert written == generate()
    for name in ("vertexsms", "sandbox"):
        assert written["variants"][name]["versions"] == list(HANDSHAKE_PROTOCOL_VERSIONS)
    sandbox = load(sandbox=True)
    real = load(sandbox=False)
    assert sandbox is not None
    assert real is not None
    latest = HANDSHAKE_PROTOCOL_VERSIONS[-1]
    assert len(real.tools[latest]["tools"]) == 12
    assert all(t["description"].startswith("[SANDBOX") for t in sandbox.tools[latest]["tools"])
    assert real.initialize[latest]["serverInfo"]["version"] == __version__


def test_a_manifest_for_another_version_or_unreadable_is_not_used(tmp_path: Path) -> None:
    stale = json.loads(MANIFEST.read_text(encoding="utf-8")) | {"version": "0.0.0-old"}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    assert load(sandbox=False, path=path) is None
    path.write_text("{", encoding="utf-8")
    assert load(sandbox=False, path=path) is None
    assert load(sandbox=False, path=tmp_path / "missing.json") is None
