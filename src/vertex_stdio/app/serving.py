"""Serving over stdio: from settings to tokens and upstreams, the server, the event loop, and exit.

``serve`` never writes to stdout: stdout is the MCP protocol.  The run itself (event loop,
signals, exit codes) is ``mcpio.runner``'s, shared with ``connect``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vertex_stdio import __version__
from vertex_stdio.core.credentials import NoTokenProvider, StaticTokenProvider, TokenProvider
from vertex_stdio.core.errors import EXIT_INTERRUPTED
from vertex_stdio.vertexsms.links import not_signed_in
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.mcpio.lean import Handover, Manifest
    from vertex_stdio.mcpio.leancalls import ToolCalls
    from vertex_stdio.mcpio.runner import Ended
    from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
    from vertex_stdio.vertexsms.server import VertexServer

log = logging.getLogger("vertex_stdio")


def token_provider(settings: Settings) -> TokenProvider:
    """Who gives tokens: ``VERTEXSMS_API_TOKEN`` wins, then the token ``login --token`` kept, then
    browser sign-in (OAuth)."""
    from vertex_stdio.core.logs import register_secret

    if settings.api_token:
        register_secret(settings.api_token)
        return StaticTokenProvider(settings.api_token)
    try:
        from vertex_stdio.vertexsms.apitoken import kept_provider

        kept = kept_provider(settings)
        if kept is not None:
            return kept  # read at its first use; the sign-in flows are never loaded for it
        from vertex_stdio.oauth import OAuthTokenProvider
        from vertex_stdio.vertexsms.signin import vertexsms_profile
    except ImportError:
        return NoTokenProvider(not_signed_in())
    provider: TokenProvider = OAuthTokenProvider(vertexsms_profile(settings))
    return provider


@contextlib.contextmanager
def upstream_for(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    """Settings and tokens for the real VertexSMS, or for a running sandbox emulator."""
    if not settings.sandbox:
        yield settings, token_provider(settings)
        return
    from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
    from vertex_stdio.vertexsms.sandbox.book import default_book_file

    with Emulator(book_file=default_book_file()) as emulator:
        log.info("Sandbox: VertexSMS emulator on %s; nothing leaves this machine", emulator.api_url)
        local = replace(settings, api_url=emulator.api_url, mcp_url=emulator.mcp_url, api_token=None)
        yield local, StaticTokenProvider(SANDBOX_TOKEN, source="sandbox")


def serve(settings: Settings, *, config_error: str | None = None) -> int:
    """Serve over stdio until stdin closes; with ``config_error``, every tool call answers it.

    The lean front (``mcpio.lean``) answers ``initialize`` and ``tools/list`` from the manifest
    while the SDK, the server and its upstream load on a worker thread (``Loading``).
    """
    manifest = None if sys.stdin.isatty() else lean_manifest(settings)
    if manifest is None:
        if sys.stdin.isatty():
            signal.signal(signal.SIGINT, _exit_interrupted)  # until the run's own handler takes over
            from vertex_stdio.app.call import serve_hint

            serve_hint(sys.stderr)
        from vertex_stdio.mcpio import runner

        with Loading(settings, config_error, wake=False) as made:
            ended = _run(made)
        return runner.leave(ended)
    from vertex_stdio.app.earlyserve import Warm, run_early_calls
    from vertex_stdio.mcpio.pipes import claimed_stdin, claimed_stdout

    with claimed_stdin() as in_fd, claimed_stdout() as out_fd:
        warm = Warm.started(settings, config_error)
        loading = Loading(settings, config_error, start=warm is None)  # else: once idle, or by Warm
        if warm is not None:
            warm.attach(loading)
        handover = front_until_stopped(in_fd, out_fd, manifest, loading.wake_fd, loading.start)
        del manifest  # not needed from here on: the SDK answers
        log.debug("the lean front answered %d requests", handover.answered)
        from vertex_stdio.mcpio import runner  # after the front: asyncio is not needed before

        if warm is not None and handover.ended is None and not loading.ready and warm.on():
            answered = run_early_calls(settings, handover, loading)
            log.debug("the lean call path answered %d calls before the SDK was wanted", answered)
        if handover.ended is None:
            loading.start()
        if handover.ended == "eof":
            loading.abandon()
            return runner.leave(runner.Ended())
        if handover.ended is not None:  # a signal: nothing is in flight, so exit now
            return runner.leave(runner.Ended(handover.ended))
        with loading as made:
            ended = _run(made, handover)
    return runner.leave(ended)


def _exit_interrupted(_signum: int, _frame: object) -> None:
    """Ctrl-C in a terminal before the run receives it (the SDK loading, the event loop starting):
    exit now with 130, quietly; nothing is served yet.

    A KeyboardInterrupt there is not reliably an exit: raised inside a weakref callback or a
    ``__del__`` (an import's module-lock clean-up runs thousands of them) it is printed as
    "Exception ignored" and serving goes on; inside a C extension's init it can turn into a
    PanicException; at the loop's start, asyncio's own handler turns it into a CancelledError.
    The run replaces this handler (``runner._stop_on_signals``) and restores Python's default.
    """
    os._exit(EXIT_INTERRUPTED)


def _run(made: Made, handover: Handover | None = None) -> Ended:
    from vertex_stdio.core.tasks import hosted
    from vertex_stdio.mcpio import runner

    tokens = made.tokens
    session = runner.Session(
        made.server, aclose=made.aclose, handover=handover, hosted=hosted(tokens), lean=made.lean
    )
    return runner.run(
        session, first_line=f"vertex-stdio {__version__} serving over stdio (tokens: {tokens.source})"
    )


def lean_manifest(settings: Settings) -> Manifest | None:
    """The manifest for these settings, or None: Windows (no ``select`` on pipes), turned off
    (``VERTEX_STDIO_LEAN=0``, a diagnostic switch), or not written for this version."""
    if sys.platform == "win32" or os.environ.get("VERTEX_STDIO_LEAN") == "0":
        return None
    from vertex_stdio.vertexsms.manifest import load

    return load(sandbox=settings.sandbox)


def lean_calls_on() -> bool:
    """Whether the hosted tools' plain calls skip the SDK's server (``vertexsms.leancall``); off
    with the front (``VERTEX_STDIO_LEAN=0``) or alone (``VERTEX_STDIO_LEAN_CALLS=0``: that lever
    measured alone)."""
    return os.environ.get("VERTEX_STDIO_LEAN") != "0" and os.environ.get("VERTEX_STDIO_LEAN_CALLS") != "0"


@dataclass
class Made:
    """What ``Loading`` makes: the server, its tokens, the lean call path (None: off) and the
    clean-up of what the server does not own."""

    server: VertexServer
    tokens: TokenProvider
    lean: ToolCalls | None = None
    hosted: HostedMcpUpstream | None = None

    async def aclose(self) -> None:
        if self.hosted is not None:
            await self.hosted.aclose()
        await self.tokens.aclose()


def front_until_stopped(
    in_fd: int, out_fd: int, manifest: Manifest, wake_fd: int, idle: Callable[[], None] | None = None
) -> Handover:
    """The lean front, with SIGTERM ending it as it ends a session (Ctrl-C does so by itself)."""
    from vertex_stdio.mcpio.lean import Stopped, front

    def stop(signum: int, _frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return front(in_fd, out_fd, manifest, wake_fd, idle)
    finally:
        signal.signal(signal.SIGTERM, previous)


class Loading:
    """The SDK, the server and its upstream (tokens, sandbox emulator), made on a worker thread.

    ``wake_fd`` turns readable when they are ready (or failed); entering waits for them and
    raises what failed; leaving closes the upstream.  With ``wake=False`` it all runs here.
    """

    def __init__(
        self, settings: Settings, config_error: str | None, *, wake: bool = True, start: bool = True
    ) -> None:
        self._settings, self._config_error = settings, config_error
        self._stack = contextlib.ExitStack()
        self._made: Made | None = None
        self._failed: BaseException | None = None
        self.ready = False
        self.wake_fd, self._woken = os.pipe() if wake else (-1, -1)
        self._thread = threading.Thread(target=self._make, name="vertex-stdio-loading", daemon=True)
        self._starting = threading.Lock()
        if not wake:
            self._make()
        elif start:
            self.start()

    def start(self) -> None:
        """Start loading on the worker thread, unless it has started (from any thread)."""
        with self._starting:
            if self._thread.ident is None:
                self._thread.start()

    def _make(self) -> None:
        try:
            from vertex_stdio.mcpio import runner, stdio  # noqa: F401 -- the wire's imports, loaded here too

            runner.event_loop()
            config_error = self._config_error
            upstream = _unconfigured(self._settings) if config_error else upstream_for(self._settings)
            effective, tokens = self._stack.enter_context(upstream)
            self._made = _made(effective, tokens, config_error)
        except BaseException as exc:  # noqa: BLE001 -- re-raised where the server is wanted
            self._failed = exc
        finally:
            self.ready = True
            if self._woken >= 0:
                os.write(self._woken, b"!")

    def __enter__(self) -> Made:
        if self._thread.ident is not None:
            self._thread.join()
        if self._failed is not None:
            self._stack.close()
            raise self._failed
        assert self._made is not None
        return self._made

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def abandon(self) -> None:
        """The session ended before the server was wanted: wait for the thread (if it started),
        close what it opened."""
        if self._thread.ident is not None:
            self._thread.join()
        self._stack.close()


def _made(settings: Settings, tokens: TokenProvider, config_error: str | None) -> Made:
    """The server; with the lean call path on, it shares its hosted-MCP connection with it."""
    from vertex_stdio.vertexsms.server import build_server

    if config_error or not lean_calls_on():
        return Made(build_server(settings, tokens, config_error=config_error), tokens)
    from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
    from vertex_stdio.vertexsms.leancall import HostedCalls

    hosted = HostedMcpUpstream(settings.mcp_url, tokens, timeout=settings.http_timeout)
    server = build_server(settings, tokens, hosted=hosted)
    return Made(server, tokens, HostedCalls(hosted, tokens, sandbox=settings.sandbox), hosted)


@contextlib.contextmanager
def _unconfigured(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    yield settings, NoTokenProvider(not_signed_in())


def serve_misconfigured(problem: str) -> int:
    """A setting from the environment (e.g. the bundle's form) is wrong: serve, and say so on every call.

    Exiting would leave the person with an extension that "failed to start" and no reason.
    """
    from vertex_stdio.core import logs

    logs.configure("INFO")
    log.error("%s Every tool call will answer this until it is fixed.", problem)
    return serve(Settings(), config_error=problem)
