"""The two tools forwarded to the hosted VertexSMS MCP server, without the SDK.

``correct_phone_number`` and ``get_mobile_prefixes`` (``numbers.py``) and the lean call path
(``vertexsms/leancall.py``) both ask them here, and check what is sent and answered with the
same models (``numbermodels.py``), so the two paths cannot give different answers -- the lean
call path through their pydantic-free certified subset first (``numbercheck.py``).  Nothing
here imports ``mcp`` or ``pydantic``.
"""

from __future__ import annotations

from typing import Any, Protocol

from vertex_stdio.core.credentials import SignInPrompt
from vertex_stdio.vertexsms.api.outcomes import Operation

PREFIXES = Operation(tool="get_mobile_prefixes", scope="numbers:read", costs_or_changes=False)
CORRECT = Operation(tool="correct_phone_number", scope="numbers:read", costs_or_changes=False)


class HostedTools(Protocol):
    """Who runs a hosted tool: ``api.remote.HostedMcpUpstream`` (over HTTP), or the sandbox's
    ``InProcessHosted`` (its first calls, before the emulator is up)."""

    async def call_tool(
        self, op: Operation, arguments: dict[str, Any], prompt: SignInPrompt | None = None
    ) -> dict[str, Any]: ...


async def ask_prefixes(hosted: HostedTools, country: str, prompt: SignInPrompt | None) -> dict[str, Any]:
    """The hosted server's answer to ``get_mobile_prefixes`` for a valid ``country``, unchecked."""
    return await hosted.call_tool(PREFIXES, {"country": country}, prompt)


async def ask_corrections(
    hosted: HostedTools, numbers: list[dict[str, Any]], prompt: SignInPrompt | None
) -> dict[str, Any]:
    """The hosted server's answer to ``correct_phone_number`` for ``numbers`` as
    ``numbermodels.sent_numbers`` gives them, unchecked."""
    return await hosted.call_tool(CORRECT, {"numbers": numbers}, prompt)
