"""The lean call path before the SDK is loaded: the first hosted calls answered while it loads.

The lean front (``lean.py``) answers ``initialize`` and ``tools/list``; a client's first
``tools/call`` then used to wait for the SDK's import and the server's build.  When the front
stops at a call the lean call path can answer (``leancalls.LeanGate``), ``run_early`` answers
it, and every later one, on an event loop of its own, until:

- a message the SDK must answer (it is left in ``Handover.preface``, whole), or a lean call
  that is unsure after all (its line joins ``Handover.replay``, so the SDK runs it);
- the SDK is ready (``wake_fd`` readable);
- end of input (calls in flight get ``eof_drain``), or SIGTERM / Ctrl-C (they get ``grace``;
  ``Handover.ended`` then says which, and the process exits as a session does).

The early session may put requests to the local client (``asks.Asking``: ``Early.asks`` is given
its ``ask`` at the start): the answers are read from stdin with the calls, delivered and not
passed on.  Stopped while an ask waits or a call that may ask runs, it reads on
(``_tail``): answers are delivered, every other line is kept, in order, for the SDK.  End of
input, stdout broken, or the drain's limit after a signal: the asks waiting get ``LocalGone``.
A client's plain ``ping`` (no params, or empty ones) is answered here, running or stopped, with
the SDK server's bytes (``_pong``), so a liveness check is not held while a person answers an
elicitation; a ping of any other shape, and every other request, is the SDK's, answered once the
calls and asks in flight have ended.

The calls in flight are answered before it returns (one writer writes every answer).  The
SDK's loader is started by ``start_loading`` once nothing has happened for ``idle`` seconds:
importing it on another thread would take the GIL from the first call (2 cores: measured in
benchmarks/README.md, "When the SDK's loader starts"), and a person's first question comes
seconds after ``tools/list``.
Up to ``MAX_IN_FLIGHT`` calls are in flight at once, as in the SDK's session; ``AT_ONCE`` of
them run, the others wait their turn as requests (``leancalls.Waiting``, as in ``stdio.Wire``).
Nothing here imports the SDK.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pydantic_core
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

from vertex_stdio.mcpio.asks import Ask, Asking
from vertex_stdio.mcpio.asks import LocalGone as LocalGone  # for the relay: what an ask raises
from vertex_stdio.mcpio.lean import IDLE, Handover, is_ping
from vertex_stdio.mcpio.leancalls import LeanGate, LeanRequest, ToolCalls, Waiting, answer_line
from vertex_stdio.mcpio.lines import MAX_LINE_BYTES, RequestId, json_object
from vertex_stdio.mcpio.pipes import FdPipe, batches

MAX_IN_FLIGHT = 256  # as stdio.MAX_IN_FLIGHT
_CHUNK = 64 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Early:
    """What the early session needs: the lean tools, the SDK's loader and its ready signal."""

    tools: ToolCalls
    start_loading: Callable[[], None]
    wake_fd: int
    aclose: Callable[[], Awaitable[None]]  # closes what ``tools`` opened, at the end
    asks: Callable[[Ask], None] | None = None  # given, at the start, how to ask the local client
    idle: float = IDLE
    eof_drain: float = 1.0
    grace: float = 10.0


def run_early(handover: Handover, early: Early, backend_options: dict[str, Any]) -> int:
    """Answer lean calls from where the front stopped (see the module's docstring); update
    ``handover`` for the SDK.  Returns how many calls were answered."""
    session = _Early(handover, early)
    anyio.run(session.run, backend="asyncio", backend_options=backend_options)
    return session.answered


class _Early:
    def __init__(self, handover: Handover, early: Early) -> None:
        self._h, self._e = handover, early
        self._gate = LeanGate(early.tools)
        for line in handover.replay:  # the opening the front read: the gate sees the session open
            self._gate.take(line)
        self._buffer, handover.preface = handover.preface, b""
        self._kept: list[bytes] = []  # lines read after the loop stopped, for the SDK
        self._calls: dict[RequestId, anyio.CancelScope] = {}  # running, by id: a cancellation reaches it
        self._waiting = Waiting()  # admitted beyond ``AT_ONCE`` running, waiting their turn
        self._open: set[RequestId] = set()  # in flight: admitted, and not yet answered on stdout
        self._emptied = anyio.Event()
        self._reading: anyio.CancelScope | None = None
        self._stopped = False
        self._eof = False
        self.answered = 0

    async def run(self) -> None:
        assert self._h.fds is not None
        stdin, stdout = FdPipe(self._h.fds[0], name="stdin"), FdPipe(self._h.fds[1], name="stdout")
        # answers (with the id they count for) and busy refusals (None): room for every call in flight
        self._out, outgoing = anyio.create_memory_object_stream[_Answer](MAX_IN_FLIGHT * 4)
        self._ending = anyio.CancelScope()  # cancelled by a signal, even while a busy answer waits for room
        self._asks = Asking(self._send_ask, self._settled)
        if self._e.asks is not None:
            self._e.asks(self._asks.ask)
        self._active = anyio.current_time()
        try:
            async with anyio.create_task_group() as watching:
                watching.start_soon(self._wake)
                watching.start_soon(self._signals, watching)
                watching.start_soon(self._idle)
                async with anyio.create_task_group() as calls:
                    calls.start_soon(_write, stdout, outgoing, self._written, self._broken)
                    self._tasks = calls
                    with self._ending:  # a signal ends the reading wherever it waits
                        await self._read(stdin)
                    if self._eof:
                        self._asks.gone("end of input")
                    await self._drain(stdin)
                    await self._out.aclose()
                    if self._h.ended or self._eof:  # the session ends: the last answers, briefly (as stdio's)
                        calls.cancel_scope.deadline = anyio.current_time() + 1.0
                watching.cancel_scope.cancel()
        finally:
            self._asks.gone("the early session has ended")
            stdin.close()
            stdout.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(3.0):
                await self._e.aclose()
        self._h.preface = b"".join(self._kept) + self._buffer
        self._h.asked = self._asks.used
        if self._eof and self._h.ended is None and not self._buffer.strip():
            self._h.ended = "eof"
        self._h.answered += self.answered

    async def _read(self, stdin: FdPipe) -> None:
        while not self._stopped:
            while b"\n" in self._buffer and not self._stopped:
                line, _, rest = self._buffer.partition(b"\n")
                if line.strip() and not await self._take(line):
                    return  # the SDK answers this line and what follows
                self._buffer = rest
            if len(self._buffer) > MAX_LINE_BYTES:
                return
            chunk = None
            with anyio.CancelScope() as self._reading:
                chunk = await stdin.read(_CHUNK)
            if chunk is None:
                return  # stopped while waiting
            if not chunk:
                self._eof = True
                return
            self._active = anyio.current_time()
            self._buffer += chunk

    async def _take(self, line: bytes) -> bool:
        """Run or refuse ``line``'s call, deliver an answer to an ask, answer a plain ping, or
        consume the cancellation of a call; False: not ours."""
        if self._asks.take(line) or self._pinged(line):
            return True
        if b"notifications/cancelled" in line:
            return self._cancelled(line)
        request = self._gate.take(line)
        if request is None:
            return False
        if len(self._open) >= MAX_IN_FLIGHT:  # answers not yet written count, so at most this many are held
            await self._out.send((None, _busy(request.id)))
            return True
        self._open.add(request.id)
        if self._waiting.start(request):
            self._calls[request.id] = anyio.CancelScope()  # a cancellation reaches it from now on
            self._tasks.start_soon(self._waiting.run, request, self._call)
        return True

    def _cancelled(self, line: bytes) -> bool:
        found = self._gate.cancelled(line)
        if found is not None and found in self._calls:
            self._calls[found].cancel()
            return True
        if found is not None and self._waiting.drop(found):
            self._open.discard(found)  # never run, never answered
            self._emptied.set()
            return True
        return False

    async def _call(self, request: LeanRequest) -> None:
        queued = False
        scope = self._calls.setdefault(request.id, anyio.CancelScope())  # made here when it waited
        try:
            with scope:
                result = await request.run()
                if result is None:  # unsure: the SDK runs it, and answers what follows
                    self._h.replay.append(request.line.strip() + b"\n")
                    self._stop()
                    self._e.start_loading()
                else:
                    await self._out.send((request.id, answer_line(request.id, result)))
                    queued = True  # in flight until the writer has written it
                    self.answered += 1
                    if self.answered == 1:
                        sdk, models = ("" if m in sys.modules else "not " for m in ("mcp", "pydantic"))
                        log.debug(
                            "the first lean call is answered; the SDK is %simported; pydantic is %simported",
                            sdk,
                            models,
                        )
        finally:
            self._calls.pop(request.id, None)
            if not queued:
                self._open.discard(request.id)
            self._active = anyio.current_time()
            if not self._calls and not self._waiting:
                self._emptied.set()

    async def _drain(self, stdin: FdPipe) -> None:
        """The calls in flight are answered, and the asks waiting too: within ``grace`` after a
        signal, ``eof_drain`` at end of input, else all of them; the rest are cancelled, never
        answered (the asks get ``LocalGone``).  Meanwhile stdin is read on (``_tail``)."""
        limit = self._e.grace if self._h.ended else self._e.eof_drain if self._eof else None
        with anyio.move_on_after(limit):
            async with anyio.create_task_group() as tail:
                if not self._eof:
                    tail.start_soon(self._tail, stdin)
                while self._calls or self._waiting or self._asks.pending:
                    self._emptied = anyio.Event()
                    await self._emptied.wait()
                tail.cancel_scope.cancel()
        self._cancel_all()

    async def _tail(self, stdin: FdPipe) -> None:
        """Stopped with calls or asks in flight: an answer to an ask is delivered, a call's
        cancellation applied, a plain ping answered, every other line kept, in order, for the SDK
        (``Handover.preface``)."""
        kept = 0
        while True:
            while b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                if self._asks.take(line) or (b"notifications/cancelled" in line and self._cancelled(line)):
                    continue
                if self._pinged(line):
                    continue
                self._kept.append(line + b"\n")
                kept += len(line) + 1
            if kept + len(self._buffer) > MAX_LINE_BYTES:  # bounded: no more is read for the SDK
                self._asks.gone("the local client wrote too much before answering")
                return
            try:
                chunk = await stdin.read(_CHUNK)
            except OSError:
                chunk = b""
            if not chunk:  # the SDK finds end of input again, when it reads
                self._asks.gone("end of input")
                return
            self._active = anyio.current_time()
            self._buffer += chunk

    def _cancel_all(self) -> None:
        """The calls running are cancelled and those waiting dropped: none of them is answered."""
        self._asks.gone("the early session has ended")
        for waiting in self._waiting.clear():
            self._open.discard(waiting.id)
        for scope in self._calls.values():
            scope.cancel()

    def _pinged(self, line: bytes) -> bool:
        """Whether ``line`` is a plain ``ping``, answered now through the one writer (``_pong``).
        Never awaits: a cancellation (the drain's end while ``_tail`` reads) cannot fall between
        taking the line and answering it, so a ping is answered or kept for the SDK, never lost;
        with the writer's queue full or closed it is kept."""
        answer = _pong(line)
        if answer is None:
            return False
        try:
            self._out.send_nowait((None, answer))
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True

    async def _send_ask(self, line: bytes) -> None:
        await self._out.send((None, line))

    def _settled(self) -> None:
        self._active = anyio.current_time()
        self._emptied.set()

    def _broken(self) -> None:
        self._asks.gone("stdout is broken")

    def _written(self, id_: RequestId) -> None:
        self._open.discard(id_)
        self._active = anyio.current_time()

    def _stop(self) -> None:
        self._stopped = True
        if self._reading is not None:
            self._reading.cancel()

    async def _wake(self) -> None:
        await anyio.wait_readable(self._e.wake_fd)
        self._stop()

    async def _idle(self) -> None:
        while True:
            await anyio.sleep(self._e.idle)
            quiet = anyio.current_time() - self._active >= self._e.idle
            if quiet and not self._open and not self._asks.pending:
                self._e.start_loading()
                return

    async def _signals(self, watching: TaskGroup) -> None:
        """SIGTERM or Ctrl-C: stop reading, let the calls in flight answer; a second: stop now."""
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if self._h.ended is not None:
                    self._cancel_all()
                    return
                self._h.ended = signal.Signals(signum).name
                self._stop()
                self._ending.cancel()


_Answer = tuple[RequestId | None, bytes]  # a line, and the call it answers (None: a refusal, an ask)


async def _write(
    stdout: FdPipe,
    outgoing: MemoryObjectReceiveStream[_Answer],
    written: Callable[[RequestId], None],
    on_broken: Callable[[], None] | None = None,
) -> None:
    """Write every answer, each batch in one write, and say which calls are answered; after a
    broken pipe (said to ``on_broken``), drop them."""
    broken = False
    async for batch in batches(outgoing):
        if not broken:
            try:
                await stdout.write(b"".join(line for _, line in batch))
            except OSError:
                broken = True
                if on_broken is not None:
                    on_broken()
        for id_, _ in batch:
            if id_ is not None:
                written(id_)


def _pong(line: bytes) -> bytes | None:
    """The SDK server's answer to the plain ``ping`` on ``line`` (an empty result, its bytes), else
    None: any other shape, well-formed or not, is the SDK's to answer (``lean.is_ping``)."""
    message = json_object(line) if b'"ping"' in line else None
    return answer_line(message["id"], {}) if message is not None and is_ping(message) else None


def _busy(id_: RequestId) -> bytes:
    """The SDK session's busy answer (stdio._busy), as it writes it."""
    message = (
        f"Server busy: {MAX_IN_FLIGHT} requests are already in flight. Wait for their answers, then send "
        "this request again."
    )
    error = {"jsonrpc": "2.0", "id": id_, "error": {"code": -32000, "message": message}}
    return pydantic_core.to_json(error) + b"\n"
