"""The entry each client expects for one stdio server, from the launcher and its settings.

Shapes, each from the client's documentation (sources in ``places``):

- ``mcpServers`` objects (Windsurf, Cline, LM Studio, JetBrains): ``command``, ``args``, ``env``
  (Claude Desktop's schema, which Windsurf and LM Studio say they follow).  Cline's also carries
  ``disabled: false`` and an empty ``autoApprove``: nothing of ours runs without Cline asking.
- Zed ``context_servers``: ``command``, ``args``, ``env``.
- Goose ``extensions``: ``type: stdio``, ``name``, ``cmd``, ``args``, ``envs``, ``env_keys``,
  ``enabled``, ``timeout`` (seconds), ``description``.
- Continue ``mcpServers``: a *list* of ``name``, ``type: stdio``, ``command``, ``args``, ``env``.

No entry ever holds an API token: these clients have no secret store we can point at, so
``setup`` leaves the token out (see ``run``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What Goose shows beside the extension (its ``description`` field).
DESCRIPTION = "VertexSMS: send SMS, check prices and delivery (vertex-stdio)"
GOOSE_TIMEOUT = 300  # Goose's documented example; a send waits for VertexSMS, never for minutes


def entry_for(client: str, name: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """``client``'s entry named ``name`` for ``base`` (``command``, ``args``, optional ``env``)."""
    command, args = base["command"], list(base["args"])
    env = dict(base.get("env", {}))
    if client == "goose":
        return {
            "enabled": True,
            "type": "stdio",
            "name": name,
            "description": DESCRIPTION,
            "cmd": command,
            "args": args,
            "envs": env,
            "env_keys": [],
            "timeout": GOOSE_TIMEOUT,
        }
    entry: dict[str, Any] = {"command": command, "args": args}
    if env:
        entry["env"] = env
    if client == "continue":
        return {"name": name, "type": "stdio", **entry}
    if client == "cline":
        return {**entry, "disabled": False, "autoApprove": []}
    return entry
