"""The emulator's ``/mcp`` answer to a ``tools/call``, computed in this process.

``serve --sandbox`` reaches its hosted tools through the emulator (uvicorn, starlette and the
SDK's ``MCPServer``, started on the loader thread).  Its first calls need not wait for that:
``answer`` gives the result the emulator's server would send for the sandbox's own token, from
the same code (``vertexsms/sandboxcalls.py`` reads it as the client reads the emulator's):

- the gate: the sandbox's own token (``SANDBOX_TOKEN``) has every scope in the emulator
  ``serve --sandbox`` starts (no faults, no other tokens: those are for tests that start their
  own emulator), so ``numbers:read`` passes;
- the arguments as the server receives them (through JSON), checked with its tool's own types;
  a refusal there is not worded here (``Unsure``: the caller asks the emulator, which words it);
- the tool's own function (``hostedtools``), its result dumped as the SDK server dumps
  structured content, and sent through JSON; a refusal (``VertexError``) is the server's error
  text (``hostedtools.error_text``).

Anything else a tool raises is a crash, and propagates: the caller asks the emulator then too.
Nothing here imports the SDK, starlette or uvicorn.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from vertex_stdio.core.errors import VertexError
from vertex_stdio.vertexsms.sandbox.hostedtools import (
    HOSTED_SCOPE,
    CountryCode,
    NumbersToCorrect,
    correct_phone_number,
    error_text,
    get_mobile_prefixes,
)
from vertex_stdio.vertexsms.sandbox.tokens import ALL_SCOPES

_NUMBERS: TypeAdapter[Any] = TypeAdapter(NumbersToCorrect)
_COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)


class Unsure(Exception):
    """The emulator's server would refuse this call before its tool runs: ask the emulator."""


async def answer(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``tools/call`` result the emulator's ``/mcp`` sends for ``tool`` and ``arguments``
    (the sandbox's own token), as the client parses it; raises ``Unsure`` when its server would
    refuse the call before the tool runs."""
    if HOSTED_SCOPE not in ALL_SCOPES:  # the gate would refuse the sandbox's own token
        raise Unsure(tool)
    received = json.loads(json.dumps(arguments))
    try:
        run = _prepared(tool, received)
    except (ValidationError, KeyError, TypeError) as exc:
        raise Unsure(tool) from exc
    try:
        result = await run()
    except VertexError as error:
        return {"content": [{"type": "text", "text": error_text(error)}], "isError": True}
    return {"content": [], "isError": False, "structuredContent": _as_sent(result)}


def _prepared(tool: str, received: dict[str, Any]) -> Callable[[], Awaitable[BaseModel]]:
    """The emulator's tool, called with its own argument types; raises when they refuse."""
    if tool == "correct_phone_number":
        numbers = _NUMBERS.validate_python(received["numbers"])
        return lambda: correct_phone_number(numbers)
    if tool == "get_mobile_prefixes":
        country = _COUNTRY.validate_python(received["country"])
        return lambda: get_mobile_prefixes(country)
    raise KeyError(tool)


def _as_sent(model: BaseModel) -> Any:
    """A result as the SDK's server writes structured content, and the client parses it."""
    return json.loads(json.dumps(model.model_dump(mode="json", by_alias=True)))
