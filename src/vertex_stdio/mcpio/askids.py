"""The SDK's requests to the local client numbered after the early loop's (``asks``).

MCP: a requestor MUST NOT reuse a request id within a session.  Before the SDK is loaded the
early loop may have put requests to the local client under ids 1..``Handover.asked``; the
SDK's server then numbers its own from 1 (``JSONRPCDispatcher._next_id``).  ``IdShift`` is how
``stdio.Wire`` keeps them apart without touching the SDK: a request the SDK writes (and its
courtesy ``notifications/cancelled``) goes out ``asked`` higher, and an answer comes back
``asked`` lower before the SDK sees it; an answer to an early id (its ask was cancelled, or the
client was too late) is consumed, as the early loop consumes it.  With nothing asked early,
every message passes as it is.
"""

from __future__ import annotations

import logging

from mcp.shared.dispatcher import coerce_request_id
from mcp.types import JSONRPCError, JSONRPCMessage, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

log = logging.getLogger(__name__)


class IdShift:
    """The SDK's request ids, as the wire carries them after ``asked`` early ones."""

    def __init__(self, asked: int) -> None:
        self._asked = asked

    def outgoing(self, message: JSONRPCMessage) -> JSONRPCMessage:
        """The SDK's message as it goes out: its request's id (or its cancel's) after the early ones."""
        if not self._asked:
            return message
        if isinstance(message, JSONRPCRequest) and type(message.id) is int:
            return message.model_copy(update={"id": message.id + self._asked})
        if isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            params = message.params or {}
            found = params.get("requestId")
            if type(found) is int:
                return message.model_copy(update={"params": {**params, "requestId": found + self._asked}})
        return message

    def incoming(self, message: JSONRPCMessage) -> JSONRPCMessage | None:
        """The local client's message as the SDK sees it: an answer under the SDK's own id; None
        for an answer to an early id (consumed)."""
        if not self._asked or not isinstance(message, JSONRPCResponse | JSONRPCError) or message.id is None:
            return message
        found = coerce_request_id(message.id)
        if type(found) is not int or found < 1:
            return message
        if found <= self._asked:
            log.debug("stdin: a late answer to the early session's request %d, consumed", found)
            return None
        return message.model_copy(update={"id": found - self._asked})
