"""The built-in VertexSMS emulator: REST API and hosted MCP server on a loopback port. May import vertexsms.smsparts and core.

Used by ``vertex-stdio serve --sandbox`` (try every tool with no account and no network)
and by the tests as their upstream, with fault injection::

    from vertex_stdio.vertexsms.sandbox import Emulator, Fault, SANDBOX_TOKEN, ALL_SCOPES

    with Emulator() as emu:                      # SANDBOX_TOKEN with ALL_SCOPES
        emu.inject(Fault(method="POST", path="/sms", status=503))
        ...                                      # talk to emu.api_url / emu.mcp_url
        emu.journal_for("POST", "/sms")          # what arrived

Sandbox facts: message IDs look like ``sandbox-4351000001`` (a counter from a per-emulator
base); every MSISDN sender's PIN is ``12345`` (``SANDBOX_PIN``); the data (12 countries, their operators, prefixes and rates)
is sample data from ``vertex_stdio.vertexsms.sandbox.data``.  The names above are loaded when
first used: ``Emulator`` pulls in starlette, uvicorn and the SDK, and the package's pure modules
(``numbers``, ``hostedtools``, ``inprocess``: the sandbox's first calls, answered before the SDK
is loaded) must not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.sandbox.book import SANDBOX_PIN
    from vertex_stdio.vertexsms.sandbox.emulator import Emulator
    from vertex_stdio.vertexsms.sandbox.faults import Fault, Seen
    from vertex_stdio.vertexsms.sandbox.state import TokenCheck
    from vertex_stdio.vertexsms.sandbox.tokens import ALL_SCOPES, SANDBOX_TOKEN

_WHERE = {
    "ALL_SCOPES": "tokens",
    "SANDBOX_TOKEN": "tokens",
    "SANDBOX_PIN": "book",
    "Emulator": "emulator",
    "Fault": "faults",
    "Seen": "faults",
    "TokenCheck": "state",
}

__all__ = ["ALL_SCOPES", "SANDBOX_PIN", "SANDBOX_TOKEN", "Emulator", "Fault", "Seen", "TokenCheck"]


def __getattr__(name: str) -> Any:
    """The package's names, each imported from its module at its first use."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
