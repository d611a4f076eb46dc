"""The answer to a ``server/discover`` probe that opens a stdio session.

mcp 2.3 lets a session's first request choose its protocol era for good: a
2026-07-28 ``server/discover`` makes the session modern, and a later
``initialize`` is refused (-32022).  Claude Code probes ``server/discover`` and
then sends ``initialize`` anyway (field note 2026-12-07 §6, anthropics/claude-code#96183),
so a server that let the probe choose would fail its handshake.  The wire
therefore answers an opening probe itself, with the SDK's own ``DiscoverResult``
shape, and lets the next request choose the era: ``initialize`` (handshake era)
or an enveloped request (2026-07-28).
"""

from __future__ import annotations

from typing import Any

from mcp.server import Server
from mcp.server.models import InitializationOptions
from mcp.types import DiscoverResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"


def discover_answer(lowlevel: Server[Any], options: InitializationOptions | None) -> dict[str, Any]:
    """The ``server/discover`` result: versions, capabilities, instructions and server identity.

    ``options`` (``connect`` answers with the remote's words) wins over ``lowlevel``'s own,
    as it does for ``initialize``.
    """
    if options is None:
        capabilities = lowlevel.get_capabilities(protocol_version=MODERN_PROTOCOL_VERSIONS[-1])
        identity = lowlevel.server_info_stamp
        instructions = lowlevel.instructions
    else:
        capabilities = options.capabilities
        fields = {
            "title": options.title,
            "description": options.description,
            "websiteUrl": options.website_url,
        }
        identity = {"name": options.server_name, "version": options.server_version}
        identity |= {key: value for key, value in fields.items() if value is not None}
        instructions = options.instructions
    result = DiscoverResult(
        supported_versions=list(MODERN_PROTOCOL_VERSIONS),
        capabilities=capabilities,
        instructions=instructions,
        _meta={SERVER_INFO_META_KEY: identity},
    )
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)
