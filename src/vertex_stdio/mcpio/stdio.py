"""The stdio transport: stdin and stdout read and written on the event loop, guarded.

mcp 2.3's own transport drops a stdin line it cannot parse without answering it
(python-sdk #2751), so the client waits for its own timeout; it reads a line of any length
into memory; and it hops to a worker thread for every read, write and flush.
``serve_stdio`` speaks the wire itself instead (``pipes.FdPipe``: no thread per message):

- each line is bounded (``MAX_LINE_BYTES``; the rest of a longer one is skipped, never held)
  and must be UTF-8 text holding one JSON-RPC 2.0 message.  A line that is not gets a
  JSON-RPC error (-32700 parse error or -32600 invalid request, with the request's ``id``
  when it can be read -- for an oversized line, from its first 64 KiB -- else ``null``)
  and goes no further.  Good lines are validated once and handed to the SDK's server --
  except a ``server/discover`` before any other request, answered here (``discover.py``).
- at most ``MAX_IN_FLIGHT`` requests run at once; one more is answered at once with
  JSON-RPC error -32000 (busy) and not run.
- back-pressure: one writer writes the answers unbuffered, from a bounded queue
  (``MAX_QUEUED`` answers: at most ``MAX_IN_FLIGHT`` of the server's, the rest refusals kept
  as their few bytes).  When the client stops reading stdout, the writer waits, the queue
  fills, and the reader stops reading stdin: memory stays bounded, and a client that writes
  10 000 requests before it reads an answer still gets every answer.
- only JSON-RPC reaches stdout: while serving, fd 0 points at the null device and fd 1 at
  stderr, so a stray print or a child process cannot touch the wire.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer, Server
from mcp.server.models import InitializationOptions
from mcp.shared.message import SessionMessage
from mcp.types import (
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

from vertex_stdio.mcpio.askids import IdShift
from vertex_stdio.mcpio.checks import check_line
from vertex_stdio.mcpio.discover import discover_answer
from vertex_stdio.mcpio.lean import Handover
from vertex_stdio.mcpio.leancalls import (
    LeanError,
    LeanGate,
    LeanRequest,
    ToolCalls,
    Waiting,
    answer_line,
    error_line,
)
from vertex_stdio.mcpio.lines import MAX_LINE_BYTES, LineSplitter, Rejected
from vertex_stdio.mcpio.pipes import FdPipe, batches, claimed_stdin, claimed_stdout

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 256  # wider than any burst a client sends (benchmarks/: 200 at once)
MAX_QUEUED = 16_384  # answers waiting for the writer; a refusal is ~150 bytes
BUSY = -32000
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class LeanAnswer:
    """The answer to a request the lean path ran (``leancalls``), as its wire line."""

    id: RequestId
    line: bytes


Outgoing = SessionMessage | bytes | LeanAnswer  # the server's messages, our refusals, lean answers


def _refusal(rejected: Rejected) -> JSONRPCError:
    error = ErrorData(code=rejected.code, message=rejected.message)
    return JSONRPCError(jsonrpc="2.0", id=rejected.id, error=error)


def _line(message: JSONRPCMessage) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"


def _busy(id_: RequestId, limit: int) -> JSONRPCError:
    message = (
        f"Server busy: {limit} requests are already in flight. Wait for their answers, then send "
        "this request again."
    )
    return JSONRPCError(jsonrpc="2.0", id=id_, error=ErrorData(code=BUSY, message=message))


class Wire:
    """Both directions of one stdio session: guarded reads in, one unbuffered writer out."""

    def __init__(
        self,
        stdin: FdPipe,
        stdout: FdPipe,
        *,
        limit: int,
        max_in_flight: int,
        discover: dict[str, Any] | None = None,
        handover: Handover | None = None,
        lean: ToolCalls | None = None,
    ) -> None:
        self._stdin = stdin
        self._lean = LeanGate(lean) if lean is not None else None
        self._lean_calls: dict[RequestId, anyio.CancelScope] = {}  # running, by id: a cancel reaches it
        self._waiting = Waiting()  # the lean calls beyond ``AT_ONCE``, waiting their turn
        self.lean_counts = [0, 0]  # lean calls answered, and left to the SDK
        # what the lean front answered (replayed first, its answers not written) and left unread
        self._handover = handover or Handover()
        self._ids = IdShift(self._handover.asked)  # the SDK's requests to the client follow the early ones
        self._discover = discover  # answers a server/discover that comes before any other request
        self._opened = False  # a request reached the server: the SDK has chosen the era
        self._stdout = stdout
        self._limit = limit
        self._max_in_flight = max_in_flight
        self._in_flight: set[RequestId] = set()
        self._emptied: anyio.Event | None = None
        self._broken = False

    async def read(
        self,
        to_server: MemoryObjectSendStream[SessionMessage],
        answers: MemoryObjectSendStream[Outgoing],
    ) -> None:
        """Pass good messages to the server and answer the rest, until end of input."""
        splitter = LineSplitter(self._limit)
        async with to_server, answers:
            opening = b"".join(self._handover.replay) + self._handover.preface
            while True:
                chunk, opening = opening or await self._read(), b""
                for item in splitter.feed(chunk) if chunk else splitter.end():
                    lean = self._lean.take(item) if self._lean and isinstance(item, bytes) else None
                    if lean is not None:
                        await self._admit_lean(lean, answers)
                        continue
                    checked = item if isinstance(item, Rejected) else check_line(item)
                    if isinstance(checked, Rejected):
                        log.warning(
                            "stdin: %s (answered with JSON-RPC error %d)", checked.message, checked.code
                        )
                        await answers.send(_line(_refusal(checked)))
                    elif checked is not None:
                        await self._admit(checked, to_server, answers)
                if not chunk:
                    return

    async def _admit(
        self,
        message: JSONRPCMessage,
        to_server: MemoryObjectSendStream[SessionMessage],
        answers: MemoryObjectSendStream[Outgoing],
    ) -> None:
        shifted = self._ids.incoming(message)
        if shifted is None:
            return  # an answer to the early session's request
        message = shifted
        if isinstance(message, JSONRPCRequest):
            if not self._opened and message.method == "server/discover" and self._discover is not None:
                await answers.send(
                    _line(JSONRPCResponse(jsonrpc="2.0", id=message.id, result=self._discover))
                )
                return
            self._opened = True
            if len(self._in_flight) >= self._max_in_flight:
                log.warning("stdin: %d requests in flight; answered one more as busy", len(self._in_flight))
                await answers.send(_line(_busy(message.id, self._max_in_flight)))
                return
            self._in_flight.add(message.id)
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            # a cancelled request is never answered: it no longer counts
            cancelled = (message.params or {}).get("requestId")
            self._finished(cancelled)
            if cancelled in self._lean_calls:
                self._lean_calls[cancelled].cancel()
            elif cancelled is not None:
                self._waiting.drop(cancelled)  # never run, never answered
        await to_server.send(SessionMessage(message))

    def run_lean_calls(
        self,
        tasks: TaskGroup,
        to_server: MemoryObjectSendStream[SessionMessage],
        outgoing: MemoryObjectSendStream[Outgoing],
    ) -> None:
        """Where lean calls run (``tasks``), hand what they are unsure of (``to_server``) and answer
        (``outgoing``); each is closed when the session ends, and what comes later is dropped."""
        self._tasks, self._to_sdk, self._out = tasks, to_server, outgoing

    def cancel_lean_calls(self) -> None:
        """The session ends: the lean calls still running are cancelled, and never answered (nor
        are those still waiting)."""
        self._waiting.clear()
        for scope in self._lean_calls.values():
            scope.cancel()

    async def _admit_lean(self, request: LeanRequest, answers: MemoryObjectSendStream[Outgoing]) -> None:
        self._opened = True
        if len(self._in_flight) >= self._max_in_flight:
            log.warning("stdin: %d requests in flight; answered one more as busy", len(self._in_flight))
            await answers.send(_line(_busy(request.id, self._max_in_flight)))
            return
        self._in_flight.add(request.id)
        if self._waiting.start(request):
            self._tasks.start_soon(self._waiting.run, request, self._run_lean)

    async def _run_lean(self, request: LeanRequest) -> None:
        """Run one lean call; its answer, or the request itself to the SDK when the call is unsure."""
        line: bytes | None = None
        with anyio.CancelScope() as scope:
            self._lean_calls[request.id] = scope
            try:
                result = await request.run()
                line = None if result is None else answer_line(request.id, result)
            except LeanError as error:
                line = error_line(request.id, error.error)
            finally:
                self._lean_calls.pop(request.id, None)
        if scope.cancel_called:  # the client cancelled it: never answered
            return
        try:
            self.lean_counts[line is None] += 1
            if line is None:
                message = check_line(request.line)
                assert isinstance(message, JSONRPCRequest)  # the gate takes only plain requests
                await self._to_sdk.send(SessionMessage(message))
            else:
                await self._out.send(LeanAnswer(request.id, line))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._finished(request.id)  # the session has ended

    async def answered(self) -> None:
        """Return once every request passed on has been answered (or cancelled)."""
        while self._in_flight:
            self._emptied = anyio.Event()
            await self._emptied.wait()

    def _finished(self, id_: Any) -> None:
        self._in_flight.discard(id_)
        if not self._in_flight and self._emptied is not None:
            self._emptied.set()

    async def _read(self) -> bytes:
        try:
            return await self._stdin.read(_CHUNK)
        except OSError as exc:
            log.warning("stdin could not be read (%s); treating it as closed", exc)
            return b""

    async def write(self, outgoing: MemoryObjectReceiveStream[Outgoing]) -> None:
        """Write every message, one per line, each batch in one write, until the senders close."""
        async for batch in batches(outgoing):
            await self._write(batch)

    async def _write(self, batch: list[Outgoing]) -> None:
        lines = []
        for item in batch:
            if isinstance(item, bytes):
                lines.append(item)
                continue
            if isinstance(item, LeanAnswer):
                self._finished(item.id)
                lines.append(item.line)
                continue
            message = item.message
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
                self._finished(message.id)
                if message.id in self._handover.swallow:  # the lean front gave this answer already
                    self._handover.swallow.discard(message.id)
                    if isinstance(message, JSONRPCError):
                        log.error("the SDK refused what the lean front answered: %s", message.error.message)
                    continue
            lines.append(_line(self._ids.outgoing(message)))
        if self._broken:
            return
        try:
            await self._stdout.write(b"".join(lines))
        except OSError as exc:  # the client closed stdout: keep draining, so no sender waits forever
            log.warning("stdout could not be written (%s); answers are dropped from now on", exc)
            self._broken = True


EofHook = Callable[[], Awaitable[None]]


async def serve_stdio(
    server: MCPServer[Any] | Server[Any],
    *,
    options: InitializationOptions | None = None,
    limit: int = MAX_LINE_BYTES,
    max_in_flight: int = MAX_IN_FLIGHT,
    eof_drain: float = 1.0,
    on_eof: EofHook | None = None,
    eof_grace: float = 10.0,
    stop: anyio.Event | None = None,
    handover: Handover | None = None,
    lean: ToolCalls | None = None,
) -> None:
    """Serve ``server`` over stdin/stdout until stdin closes (or ``stop`` is set), answering malformed input.

    At end of input the requests in flight are answered for up to ``eof_drain`` seconds
    (``vertex-stdio < requests.jsonl`` gets every quick answer); then ``on_eof`` (if given)
    is awaited for at most ``eof_grace`` seconds while calls still run and their answers are
    still written -- e.g. to let a send record its outcome.  Then the session ends and the
    calls still running are cancelled (a billable HTTP request shields itself).
    ``options`` replaces what ``initialize`` answers (``connect`` answers with the remote's words).
    ``stop`` set (SIGTERM, Ctrl-C) ends reading as end of input does, but the requests in flight
    get the whole ``eof_grace`` to be answered, not just ``eof_drain``.
    ``handover`` is where the lean front stopped: its descriptors are used as they are (claimed
    by the caller), and its messages come first (``lean.py``).  ``lean`` are the tools whose plain
    calls are answered without the SDK's server (``leancalls.py``).
    """
    # what MCPServer.run_stdio_async runs, over our streams
    lowlevel = server._lowlevel_server if isinstance(server, MCPServer) else server
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, to_write = anyio.create_memory_object_stream[Outgoing](MAX_QUEUED)
    with _claimed(handover) as (in_fd, out_fd):
        stdin, stdout = FdPipe(in_fd, name="stdin"), FdPipe(out_fd, name="stdout")
        discover = discover_answer(lowlevel, options)
        wire = Wire(
            stdin,
            stdout,
            limit=limit,
            max_in_flight=max_in_flight,
            discover=discover,
            handover=handover,
            lean=lean,
        )
        try:
            async with anyio.create_task_group() as tg:
                wire.run_lean_calls(tg, to_server, outgoing)
                tg.start_soon(wire.write, to_write)
                ends = _Ending(eof_drain, on_eof, eof_grace, stop)
                tg.start_soon(_read_then_close, wire, to_server, outgoing.clone(), ends)
                async with outgoing:
                    await lowlevel.run(
                        from_client, outgoing, options or lowlevel.create_initialization_options()
                    )
                tg.cancel_scope.deadline = anyio.current_time() + 1.0  # write the last answers, briefly
        finally:
            stdin.close()
            stdout.close()
            if lean is not None:
                log.debug("the lean call path answered %d calls and left %d to the SDK", *wire.lean_counts)


@contextmanager
def _claimed(handover: Handover | None) -> Iterator[tuple[int, int]]:
    if handover is not None and handover.fds is not None:
        yield handover.fds
        return
    with claimed_stdin() as in_fd, claimed_stdout() as out_fd:
        yield in_fd, out_fd


async def _read_then_close(
    wire: Wire,
    to_server: MemoryObjectSendStream[SessionMessage | Exception],
    answers: MemoryObjectSendStream[Outgoing],
    ending: _Ending,
) -> None:
    """The reader; at end of input, the last answers and the EOF hook (bounded), then the server's input closes."""
    async with to_server:
        async with anyio.create_task_group() as reading:
            if ending.stop is not None:
                reading.start_soon(_cancel_when_set, ending.stop, reading.cancel_scope)
            await wire.read(to_server.clone(), answers)
            reading.cancel_scope.cancel()
        stopped = ending.stop is not None and ending.stop.is_set()
        with anyio.move_on_after(ending.grace if stopped else ending.drain):
            await wire.answered()
        if ending.on_eof is not None:
            with anyio.move_on_after(ending.grace):
                await ending.on_eof()
        wire.cancel_lean_calls()  # as the SDK's calls still running are, when its input closes


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


@dataclass(frozen=True)
class _Ending:
    drain: float
    on_eof: EofHook | None
    grace: float
    stop: anyio.Event | None = None
