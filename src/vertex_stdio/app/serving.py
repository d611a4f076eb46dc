"""Serving over stdio: from settings to tokens and upstreams, the server, the event loop, and exit.

``serve`` never writes to stdout: stdout is the MCP protocol.  SIGTERM and Ctrl-C stop it
after billable calls in flight are finished and recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vertex_stdio import __version__
from vertex_stdio.core.credentials import NoTokenProvider, StaticTokenProvider, TokenProvider
from vertex_stdio.core.errors import EXIT_INTERRUPTED, EXIT_OK
from vertex_stdio.vertexsms.links import NOT_SIGNED_IN
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.server import VertexServer

log = logging.getLogger("vertex_stdio")


def token_provider(settings: Settings) -> TokenProvider:
    """Who gives tokens: a pasted token wins; otherwise browser sign-in (OAuth)."""
    from vertex_stdio.core.logs import register_secret

    if settings.api_token:
        register_secret(settings.api_token)
        return StaticTokenProvider(settings.api_token)
    try:
        from vertex_stdio.oauth import OAuthTokenProvider
        from vertex_stdio.vertexsms.signin import vertexsms_profile
    except ImportError:
        return NoTokenProvider(NOT_SIGNED_IN)
    provider: TokenProvider = OAuthTokenProvider(vertexsms_profile(settings))
    return provider


@contextlib.contextmanager
def upstream_for(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    """Settings and tokens for the real VertexSMS, or for a running sandbox emulator."""
    if not settings.sandbox:
        yield settings, token_provider(settings)
        return
    from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator

    with Emulator() as emulator:
        log.info("Sandbox: VertexSMS emulator on %s; nothing leaves this machine", emulator.api_url)
        local = replace(settings, api_url=emulator.api_url, mcp_url=emulator.mcp_url, api_token=None)
        yield local, StaticTokenProvider(SANDBOX_TOKEN, source="sandbox")


async def _serve_then_close(server: VertexServer, tokens: TokenProvider, stopped: list[int]) -> None:
    import anyio

    from vertex_stdio.mcpio.stdio import serve_stdio

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_sigterm, tg.cancel_scope, stopped)
            await serve_stdio(server)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await tokens.aclose()


async def _stop_on_sigterm(scope: Any, stopped: list[int]) -> None:
    """On SIGTERM (or Ctrl-C's SIGINT) stop serving; billable calls in flight finish and are
    recorded first (bounded)."""
    import signal

    import anyio

    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info(
                    "%s: finishing any billable call in flight, then exiting", signal.Signals(signum).name
                )
                stopped.append(signum)
                scope.cancel()
                return
    except NotImplementedError:  # no signal receivers on this platform's loop (Windows)
        return


def _event_loop() -> tuple[str, dict[str, Any]]:
    """uvloop where it is installed (Linux, macOS: less CPU per message), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", {}
    return "uvloop", {"loop_factory": uvloop.new_event_loop}


def serve(settings: Settings, *, config_error: str | None = None) -> int:
    """Serve over stdio until stdin closes; with ``config_error``, every tool call answers it."""
    import signal

    import anyio

    from vertex_stdio.vertexsms.server import build_server

    if sys.stdin.isatty():
        from vertex_stdio.app.call import serve_hint

        serve_hint(sys.stderr)
    upstream = _unconfigured(settings) if config_error else upstream_for(settings)
    with upstream as (effective, tokens):
        server = build_server(effective, tokens, config_error=config_error)
        loop, options = _event_loop()
        log.info(
            "vertex-stdio %s serving over stdio (tokens: %s; event loop: %s)",
            __version__,
            tokens.source,
            loop,
        )
        stopped: list[int] = []
        anyio.run(_serve_then_close, server, tokens, stopped, backend_options=options)
    if stopped:
        # Every call is finished and recorded; only the stdin reader thread is left, blocked in a
        # read() that nothing can interrupt, and the interpreter would wait for it forever.
        interrupted = stopped[0] == signal.SIGINT
        log.info("vertex-stdio exits (%s)", "Ctrl-C" if interrupted else "SIGTERM")
        logging.shutdown()
        os._exit(EXIT_INTERRUPTED if interrupted else EXIT_OK)
    log.info("stdin closed; vertex-stdio exits")
    return EXIT_OK


@contextlib.contextmanager
def _unconfigured(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    yield settings, NoTokenProvider(NOT_SIGNED_IN)


def serve_misconfigured(problem: str) -> int:
    """A setting from the environment (e.g. the bundle's form) is wrong: serve, and say so on every call.

    Exiting would leave the person with an extension that "failed to start" and no reason.
    """
    from vertex_stdio.core import logs

    logs.configure("INFO")
    log.error("%s Every tool call will answer this until it is fixed.", problem)
    return serve(Settings(), config_error=problem)
