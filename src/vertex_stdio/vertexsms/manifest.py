"""The tools manifest: what the VertexSMS server's SDK answers to ``initialize`` and ``tools/list``.

``manifest.json`` (next to this file) lets the lean front (``mcpio.lean``) answer a client's
first requests before the SDK is imported.  It is generated from the real server, never
written by hand:

    uv run python -m vertex_stdio.vertexsms.manifest          # rewrite manifest.json
    uv run python -m vertex_stdio.vertexsms.manifest --check  # exit 1 if it is stale

``--check`` runs in ``scripts/check``, and tests/vertexsms/test_tools_manifest.py regenerates it and
compares, so a tool whose words change without a new manifest fails the build.  At run time a
manifest written for another version of vertex-stdio is not used (the SDK answers instead).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from vertex_stdio import __version__
from vertex_stdio.mcpio.lean import Manifest

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("manifest.json")
VARIANTS = {"vertexsms": False, "sandbox": True}  # name -> Settings.sandbox


def load(*, sandbox: bool, path: Path = MANIFEST) -> Manifest | None:
    """The manifest for the sandbox or the real VertexSMS; None if missing or for another version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("the tools manifest could not be read (%s); the SDK answers from the start", exc)
        return None
    if data.get("version") != __version__:
        log.warning(
            "the tools manifest is for vertex-stdio %s, not %s; the SDK answers from the start",
            data.get("version"),
            __version__,
        )
        return None
    return Manifest.from_json(data["variants"]["sandbox" if sandbox else "vertexsms"])


def generate() -> dict[str, Any]:
    """The manifest, from the SDK's own answers to the real server (both variants, every version)."""
    import anyio

    return {
        "version": __version__,
        "variants": {name: anyio.run(_variant, sb) for name, sb in VARIANTS.items()},
    }


async def _variant(sandbox: bool) -> dict[str, Any]:
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    from vertex_stdio.core.credentials import NoTokenProvider
    from vertex_stdio.mcpio.answers import opening, sdk_answers
    from vertex_stdio.vertexsms.server import build_server
    from vertex_stdio.vertexsms.settings import Settings

    server = build_server(Settings(sandbox=sandbox), NoTokenProvider())
    server.offer_all()  # the SDK's own answer, never the manifest's
    initialize: dict[str, Any] | None = None
    lists: list[dict[str, Any]] = []
    list_of: dict[str, int] = {}
    for version in HANDSHAKE_PROTOCOL_VERSIONS:
        init, tools = await sdk_answers(server, opening(version))
        result = {k: v for k, v in init["result"].items() if k != "protocolVersion"}
        if init["result"]["protocolVersion"] != version or initialize not in (None, result):
            raise RuntimeError(f"initialize for {version} answers more than its version differently")
        initialize = result
        if tools["result"] not in lists:
            lists.append(tools["result"])
        list_of[version] = lists.index(tools["result"])
    return {
        "versions": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "initialize": initialize,
        "tools_list_of": list_of,
        "tools_lists": lists,
    }


def main(argv: list[str]) -> int:
    text = json.dumps(generate(), indent=1, ensure_ascii=False) + "\n"
    if "--check" in argv:
        if MANIFEST.read_text(encoding="utf-8") != text:
            sys.stderr.write(
                f"{MANIFEST} is stale: run `uv run python -m vertex_stdio.vertexsms.manifest` and commit it\n"
            )
            return 1
        return 0
    MANIFEST.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
