"""The early session's answers to what a 2025 remote asks the local client (``bridge/earlycall.py``).

A remote on a 2025 session may send ``roots/list``, ``sampling/createMessage`` or
``elicitation/create`` mid-call or on its session's own event stream; the link's SDK client
relays each to the local client when it declared the capability (``relay.LocalPeer``'s
callbacks) and answers the remote with what came back.  The early session answers the same
way, with the same code: an SDK ``ClientSession`` (never run; only its request handler) made
with ``LocalPeer``'s callbacks, answering as ``joined.sdk_answer`` answers for the link -- the
request checked for the session's version (invalid params: its error), the callbacks' answer
checked, a failure worded by its dispatcher -- where ``LocalPeer``'s local session is the local
client as the early loop reaches it (``mcpio.asks``: ``Asking.ask``).  ``Asked`` does for it what
the SDK's ``ServerSession.send_request`` and its dispatcher do: the request dumped as the SDK
writes it (no ``params`` when empty), the answer checked for the local session's version and
parsed with the result model (``ValidationError``: "malformed"), an error answer raised as
``MCPError``, the local client gone (``LocalGone``) as the dispatcher's "Connection closed".

This imports the SDK: ``app/earlyconnect.py`` imports it when a remote first asks, never before
(the first calls' import contract, ``first-calls-no-mcp``, keeps ``earlycall`` free of it).
tests/bridge/test_earlyrelay.py holds it to ``LocalPeer`` over a real ``ServerSession``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, TypeVar

import anyio
from mcp import MCPError, types
from mcp.client.session import ClientSession
from mcp.types import CONNECTION_CLOSED
from mcp_types import methods
from pydantic import BaseModel

from vertex_stdio.bridge.joined import sdk_answer
from vertex_stdio.bridge.relay import LocalPeer
from vertex_stdio.mcpio.asks import Ask, LocalGone

R = TypeVar("R", bound=BaseModel)


class Asked:
    """The local client through the early loop's ``ask``, as ``LocalPeer`` sees a local session:
    what it declared (``capabilities``, the raw ``initialize`` ones) and the version it speaks."""

    def __init__(self, ask: Ask, capabilities: Mapping[str, Any], version: str) -> None:
        self._ask = ask
        self.client_capabilities: types.ClientCapabilities | None = types.ClientCapabilities.model_validate(
            capabilities
        )
        self.protocol_version = version

    async def send_request(self, request: types.ServerRequest, result_type: type[R]) -> R:
        """``ServerSession.send_request``'s steps, the line written and read by the early loop."""
        data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
        params = dict(data.get("params") or {})  # the dispatcher's: ``_meta`` and ``params`` left out empty
        if not params.get("_meta"):
            params.pop("_meta", None)
        try:
            answer = await self._ask({"method": data["method"], **({"params": params} if params else {})})
        except LocalGone:  # what the SDK's dispatcher gives a waiter when its connection closed
            raise MCPError(code=CONNECTION_CLOSED, message="Connection closed") from None
        if "error" in answer:
            error = types.ErrorData.model_validate(answer["error"], by_name=False)
            raise MCPError(code=error.code, message=error.message, data=error.data)
        result = answer.get("result")
        if isinstance(result, dict):  # else its model refuses it: "malformed"
            with contextlib.suppress(KeyError):
                methods.validate_client_result(request.method, self.protocol_version, result)
        return result_type.model_validate(result, by_name=False)


async def answer(request: Mapping[str, Any], version: str, local: Asked) -> dict[str, Any] | None:
    """What the link's SDK client, on a session of ``version``, answers the remote's ``request``
    for the local client ``local`` (``joined.sdk_answer``); None: no answer (not a request)."""
    peer = LocalPeer(lambda: local)
    write, read = anyio.create_memory_object_stream[Any](1)
    with write, read:  # never run: only its request handler answers
        session = ClientSession(read, write, **peer.callbacks())
    session._negotiated_version = version
    return await sdk_answer(session, request)
