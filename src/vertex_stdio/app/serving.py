"""Serving over stdio: from settings to tokens and upstreams, the server, the event loop, and exit.

``serve`` never writes to stdout: stdout is the MCP protocol.  The run itself (event loop,
signals, exit codes) is ``mcpio.runner``'s, shared with ``connect``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from vertex_stdio import __version__
from vertex_stdio.core.credentials import NoTokenProvider, StaticTokenProvider, TokenProvider
from vertex_stdio.vertexsms.links import not_signed_in
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    pass

log = logging.getLogger("vertex_stdio")


def token_provider(settings: Settings) -> TokenProvider:
    """Who gives tokens: ``VERTEXSMS_API_TOKEN`` wins, then the token ``login --token`` kept, then
    browser sign-in (OAuth)."""
    from vertex_stdio.core.logs import register_secret

    if settings.api_token:
        register_secret(settings.api_token)
        return StaticTokenProvider(settings.api_token)
    try:
        from vertex_stdio.oauth import OAuthTokenProvider
        from vertex_stdio.vertexsms.apitoken import kept_provider
        from vertex_stdio.vertexsms.signin import vertexsms_profile
    except ImportError:
        return NoTokenProvider(not_signed_in())
    kept = kept_provider(settings)
    if kept is not None:
        return kept
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
    """Serve over stdio until stdin closes; with ``config_error``, every tool call answers it."""
    from vertex_stdio.mcpio import runner
    from vertex_stdio.vertexsms.server import build_server

    if sys.stdin.isatty():
        from vertex_stdio.app.call import serve_hint

        serve_hint(sys.stderr)
    upstream = _unconfigured(settings) if config_error else upstream_for(settings)
    with upstream as (effective, tokens):
        server = build_server(effective, tokens, config_error=config_error)
        ended = runner.run(
            runner.Session(server, aclose=tokens.aclose),
            first_line=f"vertex-stdio {__version__} serving over stdio (tokens: {tokens.source})",
        )
    return runner.leave(ended)


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
