"""The lean call path: a plain ``tools/call`` answered without the SDK's server.

For a tool whose work is one HTTP exchange, the SDK's server side (a pydantic model of every
message, routing, a task group and cancel scope per request, the result model dumped and
validated) costs more CPU than the exchange itself.  A product offers such tools as
``ToolCalls``; ``LeanGate`` picks the requests it may answer, and the wire (``stdio.Wire``)
runs them beside the SDK, writing their answers with the SDK's own.

No weaker validation, identical answers: the gate takes only the one plain shape
(``{"jsonrpc", "id", "method": "tools/call", "params": {"name", "arguments"}}``, nothing more:
no ``_meta``, so no progress token) in a session opened by a plain ``initialize`` and
``notifications/initialized`` of a version whose answers are proven equal
(tests/mcpio/test_lean_calls.py).  ``ToolCalls.prepare`` validates the arguments with the
tool's own types and says None when unsure; a prepared call may still answer None (a sign-in
needed, a failure it does not own), and the SDK then gets the request whole, as it was read.
Nothing here imports the SDK.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic_core

from vertex_stdio.mcpio.lean import is_initialize, is_initialized, is_request
from vertex_stdio.mcpio.lines import RequestId, json_object

Result = dict[str, Any]
Prepared = Callable[[], Awaitable[Result | None]]

# Lean calls run at once in a session; the others wait their turn (``Waiting``).
AT_ONCE = 16
# The versions whose tools/call answers tests/mcpio/test_lean_calls.py proves equal to the SDK's.
VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
# A \uD800-\uDFFF escape: Python's parser takes a lone surrogate the SDK's parser refuses.
_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F]")


class ToolCalls(Protocol):
    """The tools a product answers on the lean path."""

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        """The call of ``name`` with these (validated) arguments, or None: the SDK answers it.

        The prepared call returns the ``tools/call`` result as the SDK writes it (its keys in
        the SDK's order), or None when the SDK must answer the request after all; or it raises
        ``LeanError``: its answer is that JSON-RPC error.
        """


@dataclass(frozen=True)
class LeanRequest:
    """A request the lean path runs: its id, its line as read (for the SDK, when it is unsure)."""

    id: RequestId
    line: bytes
    run: Prepared


class Waiting:
    """Lean calls run ``at_once`` at a time; the others wait here as their request, in order.

    A call waiting as a task of its own holds its coroutines, cancel scope and task (~6 KB): a
    200-call burst held 1.3 MB more at its peak than 16 calls did; queued, 0.5 MB (issue 22,
    README).  More at once buys nothing: the hosted server answers a burst no sooner, and each
    exchange on its way holds a pooled connection and its buffers (~30 KB: 16 at once 81.0 MB
    peak, 64 at once 83.1 MB; all 200 at once 90.5 MB and more CPU).  A session starts one
    runner (``run``) per ``start`` that says so; each runs its request, then the waiting ones.
    """

    def __init__(self, at_once: int = AT_ONCE) -> None:
        self._at_once = at_once
        self._queue: deque[LeanRequest] = deque()
        self._running = 0  # runners

    def __len__(self) -> int:
        return len(self._queue)

    def start(self, request: LeanRequest) -> bool:
        """True: start a runner for ``request`` now; False: it waits for a runner to take it."""
        if self._running < self._at_once:
            self._running += 1
            return True
        self._queue.append(request)
        return False

    async def run(self, request: LeanRequest, run_one: Callable[[LeanRequest], Awaitable[None]]) -> None:
        """The runner: ``run_one(request)``, then each waiting request, until none waits."""
        try:
            while True:
                await run_one(request)
                if not self._queue:
                    return
                request = self._queue.popleft()
        finally:
            self._running -= 1

    def drop(self, id_: RequestId) -> bool:
        """Take the waiting request ``id_`` out (it was cancelled: it never runs); whether it waited."""
        for index, waiting in enumerate(self._queue):
            if waiting.id == id_:
                del self._queue[index]
                return True
        return False

    def clear(self) -> list[LeanRequest]:
        """Take every waiting request out (the session ends: they never run)."""
        dropped = list(self._queue)
        self._queue.clear()
        return dropped


class LeanGate:
    """Watches a session's opening, then takes the plain ``tools/call`` requests ``tools`` prepares."""

    def __init__(self, tools: ToolCalls) -> None:
        self._tools = tools
        self._initialize: bool | None = None  # None: not seen; else whether it was plain, of a known version
        self._open = False

    def take(self, line: bytes) -> LeanRequest | None:
        """The lean request on ``line``, or None: the line goes the SDK's way."""
        if not self._open:
            self._watch(line)
            return None
        if b'"tools/call"' not in line or _SURROGATE.search(line):
            return None
        message = json_object(line)
        if message is None or set(message) != {"jsonrpc", "id", "method", "params"}:
            return None
        params = message["params"]
        if not is_request(message, "tools/call") or not isinstance(params, dict):
            return None
        if set(params) != {"name", "arguments"} or not isinstance(params["name"], str):
            return None
        arguments = params["arguments"]
        prepared = self._tools.prepare(params["name"], arguments) if isinstance(arguments, dict) else None
        return None if prepared is None else LeanRequest(message["id"], line, prepared)

    def cancelled(self, line: bytes) -> RequestId | None:
        """The request a plain ``notifications/cancelled`` on ``line`` cancels, else None."""
        message = json_object(line) if self._open and not _SURROGATE.search(line) else None
        if message is None or set(message) != {"jsonrpc", "method", "params"}:
            return None
        params = message["params"]
        if message["jsonrpc"] != "2.0" or message["method"] != "notifications/cancelled":
            return None
        if not isinstance(params, dict) or not {"requestId"} <= set(params) <= {"requestId", "reason"}:
            return None
        found = params["requestId"]
        plain_id = isinstance(found, str) or (type(found) is int and abs(found) < 2**53)
        return found if plain_id and isinstance(params.get("reason", ""), str) else None

    def _watch(self, line: bytes) -> None:
        """Open after a plain ``initialize`` then ``notifications/initialized``; never after another."""
        if self._initialize is None and b'"initialize"' in line:
            message = json_object(line)
            if message is not None and message.get("method") == "initialize":
                plain = is_initialize(message) and message["params"]["protocolVersion"] in VERSIONS
                self._initialize = plain and not _SURROGATE.search(line)
        elif self._initialize and b"notifications/initialized" in line:
            message = json_object(line)
            self._open = message is not None and is_initialized(message)


class LeanError(Exception):
    """A prepared call's answer is this JSON-RPC error (``error``: code, message and, when given,
    data, in that order, as the SDK writes an error a handler raised)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


def error_line(id_: RequestId, error: dict[str, Any]) -> bytes:
    """The JSON-RPC error answer carrying ``error``, written as the SDK writes it."""
    return pydantic_core.to_json({"jsonrpc": "2.0", "id": id_, "error": error}) + b"\n"


def answer_line(id_: RequestId, result: Result) -> bytes:
    """The JSON-RPC answer carrying ``result``, written as the SDK writes it (pydantic's JSON)."""
    return pydantic_core.to_json({"jsonrpc": "2.0", "id": id_, "result": result}) + b"\n"
