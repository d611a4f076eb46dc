"""The serve runner: one stdio MCP server from its first log line to its exit code.

``serve`` and ``connect`` both run through ``run``, so they stop alike:

* the first log line names the version, what is served and the event loop;
* uvloop where it is installed (less CPU per message), else asyncio's own loop;
* stdin closing ends the session after the answers in flight (``serve_stdio``'s EOF drain,
  then the EOF hook within its grace);
* SIGTERM and Ctrl-C (SIGINT) stop reading; the calls in flight are answered within the grace
  (a billable call also shields itself), then ``leave`` exits 0 for SIGTERM and 130 for Ctrl-C;
  a second signal stops at once;
* work that outlives a request (a sign-in) runs in the run's task group (``Session.hosted``),
  so ending the run cancels it;
* ``aclose`` runs last, shielded and bounded, whatever ended the session.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vertex_stdio.core.errors import EXIT_INTERRUPTED, EXIT_OK
from vertex_stdio.core.tasks import Hosted

if TYPE_CHECKING:
    import anyio
    import anyio.abc
    from mcp.server.lowlevel.server import Server
    from mcp.server.mcpserver import MCPServer
    from mcp.server.models import InitializationOptions

    from vertex_stdio.mcpio.lean import Handover
    from vertex_stdio.mcpio.leancalls import ToolCalls
    from vertex_stdio.mcpio.stdio import EofHook

log = logging.getLogger("vertex_stdio")

CLOSE_WITHIN = 5.0  # seconds ``aclose`` may take at exit


@dataclass(frozen=True)
class Session:
    """What one run serves: the SDK server, what ``initialize`` answers, the EOF hook, the clean-up,
    where the lean front stopped (``mcpio.lean``), when one answered first, who starts work
    beyond its requests (given the run's task group before serving), and the tools answered on
    the lean call path (``mcpio.leancalls``)."""

    server: MCPServer[Any] | Server[Any]
    options: InitializationOptions | None = None
    on_eof: EofHook | None = None
    aclose: Callable[[], Awaitable[None]] | None = None
    handover: Handover | None = None
    hosted: Hosted | None = None
    lean: ToolCalls | None = None


@dataclass(frozen=True)
class Ended:
    """How a run ended: ``signal_name`` is ``SIGTERM`` or ``SIGINT``, or None when stdin closed."""

    signal_name: str | None = None

    @property
    def code(self) -> int:
        return EXIT_INTERRUPTED if self.signal_name == "SIGINT" else EXIT_OK


def event_loop() -> tuple[str, dict[str, Any]]:
    """uvloop where it is installed (Linux, macOS), else asyncio's own; its name and anyio's options."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", {}
    return "uvloop", {"loop_factory": uvloop.new_event_loop}


def run(session: Session, *, first_line: str) -> Ended:
    """Serve ``session`` over stdio until stdin closes or a signal stops it.

    ``first_line`` is logged first, with the event loop appended (``... (event loop: uvloop)``
    goes inside its closing parenthesis when it ends with one).
    """
    import anyio

    loop, options = event_loop()
    if first_line.endswith(")"):
        first_line = f"{first_line[:-1]}; event loop: {loop})"
    else:
        first_line = f"{first_line} (event loop: {loop})"
    stopped: list[str] = []
    anyio.run(_serve_then_close, session, stopped, first_line, backend_options=options)
    return Ended(stopped[0] if stopped else None)


def leave(ended: Ended, name: str = "vertex-stdio") -> int:
    """The exit code for ``ended``; after a signal the process exits here and now.

    Every call is finished and recorded by then; only the stdin reader thread may be left,
    blocked in a read() that nothing can interrupt, and the interpreter would wait for it forever.
    """
    if ended.signal_name is None:
        log.info("stdin closed; %s exits", name)
        return EXIT_OK
    log.info("%s exits (%s)", name, "Ctrl-C" if ended.signal_name == "SIGINT" else "SIGTERM")
    logging.shutdown()
    os._exit(ended.code)


async def _serve_then_close(session: Session, stopped: list[str], first_line: str) -> None:
    import anyio

    from vertex_stdio.mcpio.stdio import serve_stdio

    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(_stop_on_signals, stop, tg.cancel_scope, stopped)
            # Logged once the signals are ours: a SIGINT after this line is a clean stop, never a
            # KeyboardInterrupt inside the task group (a supervisor may wait for this line).
            log.info("%s", first_line)
            if session.hosted is not None:
                session.hosted.run_tasks_in(tg)
            await serve_stdio(
                session.server,
                options=session.options,
                on_eof=session.on_eof,
                stop=stop,
                handover=session.handover,
                lean=session.lean,
            )
            tg.cancel_scope.cancel()
    finally:
        if session.aclose is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_WITHIN):
                await session.aclose()


async def _stop_on_signals(
    stop: anyio.Event,
    scope: anyio.CancelScope,
    stopped: list[str],
    *,
    task_status: anyio.abc.TaskStatus[None],
) -> None:
    """The first SIGTERM or SIGINT stops reading (calls in flight finish); a second stops at once.
    Started (``task_status``) once the signals are received here."""
    import anyio

    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if stopped:
                    log.info("%s again: stopping now", name)
                    scope.cancel()
                    return
                log.info("%s: finishing the calls in flight, then exiting", name)
                stopped.append(name)
                stop.set()
    except NotImplementedError:  # no signal receivers on this platform's loop (Windows)
        task_status.started()
        return
