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
is sample data from ``vertex_stdio.vertexsms.sandbox.data``.  Importing this package pulls in
starlette and uvicorn, so the bridge imports it only in sandbox mode.
"""

from __future__ import annotations

from vertex_stdio.vertexsms.sandbox.emulator import Emulator
from vertex_stdio.vertexsms.sandbox.faults import Fault, Seen
from vertex_stdio.vertexsms.sandbox.state import ALL_SCOPES, SANDBOX_PIN, SANDBOX_TOKEN, TokenCheck

__all__ = ["ALL_SCOPES", "SANDBOX_PIN", "SANDBOX_TOKEN", "Emulator", "Fault", "Seen", "TokenCheck"]
