"""What the MCPB ``manifest.json`` must say about the tools, derived from ``TOOLS``.

The rule (tested in ``tests/test_manifest.py``): each manifest tool's ``description`` is the first
sentence of the tool's own description, prefixed with ``BILLABLE: `` when the tool's title says it
is billable.  The manifest is for people choosing an extension, so one sentence is enough; the
full description is what the model reads from ``tools/list``.
"""

from __future__ import annotations

import re

from vertex_stdio.vertexsms.tools.catalog import TOOLS, ToolSpec

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def first_sentence(text: str) -> str:
    """The text up to and including the first full stop that ends a sentence (not ``e.g.``)."""
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        candidate = text[: match.end()]
        if not candidate.lower().endswith(_ABBREVIATIONS):
            return candidate
    return text


def manifest_description(spec: ToolSpec) -> str:
    """The one-line description the manifest shows for ``spec``."""
    sentence = first_sentence(spec.description)
    return f"BILLABLE: {sentence}" if "billable" in spec.title.lower() else sentence


def manifest_tools() -> list[dict[str, str]]:
    """The manifest's ``tools`` list, in the server's order."""
    return [{"name": spec.name, "description": manifest_description(spec)} for spec in TOOLS]
