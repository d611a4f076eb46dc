"""The early session's requests to the local client (``mcpio.early``): asked, answered, forgotten.

Before the SDK is loaded, a remote's request mid-call (``roots/list``, ``sampling/createMessage``,
``elicitation/create``) is put to the local client by the early loop: ``Asking.ask`` writes it on
stdout as the SDK's server writes a request (``jsonrpc``, ``id``, ``method``, ``params``, in that
order, pydantic's JSON; no ``params`` when there are none, as the SDK's dispatcher leaves them
out), under a fresh integer id 1, 2, ..., and returns the local client's answer: the JSON object
of its line, holding ``result`` or ``error``.  A line answering an id this has used is this
loop's (``take``): delivered to its ask, or consumed when its ask is gone.

The SDK's session, after the hand-over, numbers its own requests from 1 again (its dispatcher's
``_next_id``): ``stdio.Wire`` puts them after the early ones (``Handover.asked``), so no request
id is used twice in a session, as MCP requires; an answer to an early id reaching the SDK's wire
is consumed there too.  An ask cancelled after its request was written sends the client the
SDK dispatcher's courtesy ``notifications/cancelled`` (reason ``"caller cancelled"``, at most
``_ABANDON_WRITE`` seconds, shielded), as ``JSONRPCDispatcher.send_raw_request`` does.
Nothing here imports the SDK.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import anyio
import anyio.lowlevel
import pydantic_core

from vertex_stdio.mcpio.lines import json_object

Ask = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Send = Callable[[bytes], Awaitable[None]]  # one line to stdout, through the early loop's one writer

CANCELLED_REASON = "caller cancelled"  # the SDK dispatcher's reason for a request its caller abandoned
_ABANDON_WRITE = 5.0  # the SDK dispatcher's bound on that courtesy write (_ABANDON_WRITE_TIMEOUT)
_CLOSED = (anyio.ClosedResourceError, anyio.BrokenResourceError)  # the early loop's writer has ended


class LocalGone(Exception):
    """The local client cannot answer: end of input, stdout broken, or the session ended first."""


class _Waiter:
    def __init__(self) -> None:
        self.event = anyio.Event()
        self.answer: dict[str, Any] | None = None  # None once set: the client is gone


class Asking:
    """The requests the early loop puts to the local client, by id; ``ask`` is the ``Ask``."""

    def __init__(self, send: Send, settled: Callable[[], None]) -> None:
        self._send = send
        self._settled = settled  # an ask ended (answered, gone or cancelled): the loop looks again
        self._pending: dict[int, _Waiter] = {}
        self._gone: str | None = None
        self.used = 0  # ids 1..used are taken

    @property
    def pending(self) -> int:
        """How many asks wait for their answer."""
        return len(self._pending)

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Put ``request`` (``method``, and ``params`` when any) to the local client; its answer."""
        if set(request) - {"method", "params"} or not isinstance(request.get("method"), str):
            raise ValueError("a request to the local client is its method and, when any, its params")
        if self._gone is not None:
            raise LocalGone(self._gone)
        self.used += 1
        id_, waiter = self.used, _Waiter()
        self._pending[id_] = waiter
        issued = False
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
            issued = True  # as the SDK's: a write begun counts as issued (it may have gone out)
            await self._send(request_line(id_, request))
            await waiter.event.wait()
        except anyio.get_cancelled_exc_class():
            if issued and self._gone is None:
                with anyio.move_on_after(_ABANDON_WRITE, shield=True), suppress(*_CLOSED):
                    await self._send(cancelled_line(id_))
            raise
        except _CLOSED:
            raise LocalGone("the session has ended") from None
        finally:
            self._pending.pop(id_, None)
            self._settled()
        if waiter.answer is None:
            raise LocalGone(self._gone or "the local client is gone")
        return waiter.answer

    def take(self, line: bytes) -> bool:
        """Whether ``line`` is an answer to one of these requests: delivered to its ask when it
        waits, else consumed (its ask was cancelled or gone); other lines are not taken."""
        if not self.used or (b'"result"' not in line and b'"error"' not in line):
            return False
        message = json_object(line)
        if message is None or "method" in message or ("result" not in message and "error" not in message):
            return False
        id_ = response_id(message.get("id"))
        if id_ is None or not 1 <= id_ <= self.used:
            return False
        waiter = self._pending.pop(id_, None)
        if waiter is not None:
            waiter.answer = message
            waiter.event.set()
        return True

    def gone(self, why: str) -> None:
        """The local client can answer no more: every ask waiting, and every later one, raises
        ``LocalGone``."""
        if self._gone is None:
            self._gone = why
        for waiter in self._pending.values():
            waiter.event.set()
        self._pending.clear()


def response_id(found: Any) -> int | None:
    """An answer's id as an integer, as the SDK's dispatcher correlates it (``coerce_request_id``:
    a string holding an integer is that integer), or None."""
    if isinstance(found, str):
        try:
            return int(found)
        except ValueError:
            return None
    return found if type(found) is int else None


def request_line(id_: int, request: dict[str, Any]) -> bytes:
    """The request as the SDK's server writes it (``JSONRPCRequest``, empty params left out)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": request["method"]}
    if request.get("params"):
        message["params"] = request["params"]
    return pydantic_core.to_json(message) + b"\n"


def cancelled_line(id_: int) -> bytes:
    """The SDK dispatcher's courtesy cancel of its abandoned request ``id_``."""
    message = {"jsonrpc": "2.0", "method": "notifications/cancelled"}
    return (
        pydantic_core.to_json({**message, "params": {"requestId": id_, "reason": CANCELLED_REASON}}) + b"\n"
    )
