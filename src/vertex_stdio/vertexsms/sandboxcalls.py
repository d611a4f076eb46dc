"""``serve --sandbox``'s hosted tools before its emulator is up: the emulator's answers, computed here.

``InProcessHosted`` stands where ``api.remote.HostedMcpUpstream`` stands for the lean call path
(``leancall.HostedCalls``): the emulator's ``/mcp`` result for the call (``sandbox.inprocess``,
the emulator's own tool code) read as ``HostedMcpUpstream`` reads it (``tool_result_data``;
an error without the token that would have been sent).  A call the emulator's server would
refuse before its tool runs (``LeftToSdk``), or a tool that crashes (a defect, logged), is left
to the SDK path whole, which asks the emulator.

Here because the emulator shares no code with the clients (``api`` and ``sandbox`` never
import each other): this module joins the two, as ``app`` does when it starts the emulator.
"""

from __future__ import annotations

from typing import Any

from vertex_stdio.core.credentials import SignInPrompt
from vertex_stdio.core.errors import VertexError
from vertex_stdio.vertexsms.api.outcomes import Operation, without_sent
from vertex_stdio.vertexsms.api.remote import tool_result_data
from vertex_stdio.vertexsms.leancall import LeftToSdk
from vertex_stdio.vertexsms.sandbox.inprocess import Unsure, answer
from vertex_stdio.vertexsms.sandbox.tokens import SANDBOX_TOKEN


class InProcessHosted:
    """``HostedMcpUpstream.call_tool`` for the sandbox's two hosted tools, without the emulator."""

    async def call_tool(
        self, op: Operation, arguments: dict[str, Any], prompt: SignInPrompt | None = None
    ) -> dict[str, Any]:
        """``op.tool``'s structured result, or the contract's error, as the emulator path gives them."""
        try:
            result = await answer(op.tool, arguments)
        except Unsure as exc:  # the emulator words the refusal: the SDK path asks it
            raise LeftToSdk(op.tool) from exc
        try:
            return tool_result_data(op, result, [SANDBOX_TOKEN])
        except VertexError as error:
            without_sent(error, [SANDBOX_TOKEN])  # as HostedMcpUpstream: the token it sent
            raise

    async def aclose(self) -> None:
        return None
