"""The local client's side of a ``connect`` test: the person answering what the remote asks
(elicitation, sampling, roots) and noting every request as it arrived, and the stdio parameters
that start the real ``connect`` process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters, types
from mcp.client.session import ClientRequestContext

from bridge import process_env

ROOTS = [types.Root(uri="file:///home/ada/notes", name="notes")]


class Person:
    """Accepts every elicitation (a form with ``form``'s content, a URL without content), samples
    ``sampled`` as ``local-model``, and lists ``ROOTS``; ``asked`` holds each request in order
    (``"roots"`` for a roots request)."""

    def __init__(self, *, form: dict[str, Any], sampled: str) -> None:
        self.asked: list[Any] = []
        self._form = form
        self._sampled = sampled

    async def elicit(
        self, _ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.asked.append(params)
        if isinstance(params, types.ElicitRequestURLParams):
            return types.ElicitResult(action="accept")
        return types.ElicitResult(action="accept", content=self._form)

    async def sample(
        self, _ctx: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.asked.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=self._sampled), model="local-model"
        )

    async def roots(self, _ctx: ClientRequestContext) -> types.ListRootsResult:
        self.asked.append("roots")
        return types.ListRootsResult(roots=ROOTS)


def connect_params(url: str, home: Path, env: dict[str, str] | None = None) -> StdioServerParameters:
    """``python -m vertex_stdio connect URL`` with ``env`` (by default a clean one for ``home``)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio", "connect", url], env=env or process_env(home)
    )
