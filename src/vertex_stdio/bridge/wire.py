"""The shapes on the wire between the local client and the remote, as the proxy passes them on:
params forwarded as they came (our own ``_meta`` dropped), our failures as the contract's
envelope (never with ``vertex_error_code``: that is VertexSMS's code), and the capabilities we
announce (``listChanged`` on for the lists refreshed in the background).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mcp.types import ServerCapabilities
from pydantic import BaseModel, ConfigDict

from vertex_stdio.core.errors import VertexError
from vertex_stdio.core.redact import redact

_OURS_META = "io.modelcontextprotocol/"


class AnyParams(BaseModel):
    """Params of any shape: the handler reads the raw JSON, never this model."""

    model_config = ConfigDict(extra="allow")


def outgoing(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's params for the remote: its own ``_meta`` kept, ours (progress, era) dropped."""
    out = dict(params or {})
    meta = out.pop("_meta", None)
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k != "progressToken" and not k.startswith(_OURS_META)}
        if kept:
            out["_meta"] = kept
    return out


def envelope(error: VertexError) -> dict[str, Any]:
    """The contract's envelope, without ``vertex_error_code`` (VertexSMS's code: never a remote's)."""
    envelope = error.envelope()
    envelope["error"].pop("vertex_error_code", None)
    return envelope


def tool_error(error: VertexError) -> dict[str, Any]:
    text = redact(json.dumps(envelope(error), ensure_ascii=False))
    return {"content": [{"type": "text", "text": text}], "isError": True}


def capabilities(remote: Mapping[str, Any]) -> ServerCapabilities:
    """The remote's capabilities, with ``listChanged`` on for the lists we refresh in the background."""
    caps = dict(remote)
    for name in ("tools", "resources", "prompts"):
        if name in caps and isinstance(caps[name], dict):
            caps[name] = {**caps[name], "listChanged": True}
    return ServerCapabilities.model_validate(caps)
