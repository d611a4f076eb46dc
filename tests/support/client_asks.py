"""What the test remotes ask the client mid-call: the SDK's request and the result type it expects
back, for ``ServerSession.send_request`` (``remote_mcp.py``, run as its own process, and
``connect_script``)."""

from __future__ import annotations

from typing import Any

from mcp import types

Ask = tuple[Any, Any]

PING: Ask = (types.PingRequest(), types.EmptyResult)
ROOTS: Ask = (types.ListRootsRequest(), types.ListRootsResult)


def sampling(text: str) -> Ask:
    """``sampling/createMessage``: one user message, ``text``, answered in 5 tokens at most."""
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=text))
    request = types.CreateMessageRequest(
        params=types.CreateMessageRequestParams(messages=[message], max_tokens=5)
    )
    return request, types.CreateMessageResult


def form(message: str, schema: dict[str, Any]) -> Ask:
    """``elicitation/create`` of a form: ``message``, and the ``schema`` of what to fill in."""
    params = types.ElicitRequestFormParams(message=message, requested_schema=schema)  # type: ignore[arg-type]
    return types.ElicitRequest(params=params), types.ElicitResult
