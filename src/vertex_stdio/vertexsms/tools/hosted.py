"""The two tools forwarded to the hosted VertexSMS MCP server, without the SDK.

``correct_phone_number`` and ``get_mobile_prefixes`` (``numbers.py``) and the lean call path
(``vertexsms/leancall.py``) both run these, with the same argument types and the same result
checks, so the two paths cannot give different answers.  Nothing here imports ``mcp``.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, TypeVar

from pydantic import Field, ValidationError

from vertex_stdio.core.credentials import SignInPrompt
from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.tools.numbermodels import (
    CorrectionResult,
    CountryCode,
    MobilePrefixesResult,
    NumberToCorrect,
)

PREFIXES = Operation(tool="get_mobile_prefixes", scope="numbers:read", costs_or_changes=False)
CORRECT = Operation(tool="correct_phone_number", scope="numbers:read", costs_or_changes=False)


class HostedTools(Protocol):
    """Who runs a hosted tool: ``api.remote.HostedMcpUpstream`` (over HTTP), or the sandbox's
    ``InProcessHosted`` (its first calls, before the emulator is up)."""

    async def call_tool(
        self, op: Operation, arguments: dict[str, Any], prompt: SignInPrompt | None = None
    ) -> dict[str, Any]: ...


NumbersToCorrect = Annotated[
    list[NumberToCorrect],
    Field(min_length=1, max_length=100, description="1 to 100 numbers, each with its country."),
]


async def mobile_prefixes(
    hosted: HostedTools, country: CountryCode, prompt: SignInPrompt | None
) -> MobilePrefixesResult:
    data = await hosted.call_tool(PREFIXES, {"country": country}, prompt)
    return _validated(MobilePrefixesResult, data, PREFIXES)


async def corrected_numbers(
    hosted: HostedTools, numbers: list[NumberToCorrect], prompt: SignInPrompt | None
) -> CorrectionResult:
    payload = {"numbers": [n.model_dump() for n in numbers]}
    data = await hosted.call_tool(CORRECT, payload, prompt)
    return _validated(CorrectionResult, data, CORRECT)


_M = TypeVar("_M", MobilePrefixesResult, CorrectionResult)


def _validated(model: type[_M], data: dict[str, Any], op: Operation) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamError(
            f"The hosted VertexSMS MCP server answered {op.tool} in an unexpected shape; try again later."
        ) from exc
