"""A tool's answer in the contract's words: a result's text and data, an error's JSON envelope.

Shared by the SDK's server (``server.py``) and the lean call path (``leancall.py``), so a tool
answers alike whichever path runs it.  Nothing here imports ``mcp``, nor ``pydantic``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pydantic_core

from vertex_stdio.core.errors import VertexError
from vertex_stdio.core.redact import redact
from vertex_stdio.vertexsms.links import with_links

if TYPE_CHECKING:
    from pydantic import BaseModel

log = logging.getLogger("vertex_stdio.vertexsms.server")

SANDBOX_NOTE = (
    "[SANDBOX] This result comes from vertex-stdio's built-in VertexSMS emulator: "
    "no message was sent, nothing was charged, and the data is sample data."
)
SANDBOX_META = "vertex-stdio/sandbox"


def result_parts(result: BaseModel) -> tuple[str, dict[str, Any]]:
    """A tool's typed result as the SDK writes it: the text block (indented JSON) and the
    structured content."""
    text = pydantic_core.to_json(result, fallback=str, indent=2).decode()
    return text, result.model_dump(mode="json", by_alias=True)


def dumped_parts(dump: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``result_parts`` of a result given as its dump (``model_dump(mode="json", by_alias=True)``)
    of plain JSON values -- str, int, bool, None, lists and dicts: the same text, without the model
    (the lean call path's, from ``tools/numbercheck.py``)."""
    return pydantic_core.to_json(dump, indent=2).decode(), dump


def error_text(name: str, error: VertexError, *, sandbox: bool = False) -> str:
    """The contract's tool error for ``error`` as its text block; in the sandbox its message starts
    ``[SANDBOX]`` (the emulator answered, so nobody mistakes it for VertexSMS's own refusal)."""
    log.info("%s failed: %s", name, error.code)
    envelope = with_links(error).envelope()
    if sandbox:
        envelope["error"]["message"] = "[SANDBOX] " + envelope["error"]["message"]
    # An upstream's words are quoted in messages; some echo the token they rejected.
    return redact(json.dumps(envelope, ensure_ascii=False))
