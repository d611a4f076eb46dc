"""The ``connect`` command and ``login`` / ``logout`` / ``status`` / ``doctor`` with ``--server``.

``connect URL`` serves the remote over stdio; stdout carries JSON-RPC only.  The other commands
run the shared sign-in commands with the remote's profile.  Exit codes as for every command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TextIO

import anyio

from vertex_stdio import __version__
from vertex_stdio.app import signin as commands
from vertex_stdio.bridge.offer import LISTS, OfferCache
from vertex_stdio.bridge.proxy import Proxy
from vertex_stdio.bridge.servers import RemoteServer, profile_for, remember, resolve
from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE, ConfigError, VertexError
from vertex_stdio.mcpio import runner
from vertex_stdio.oauth import OAuthTokenProvider
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.vertexsms.settings import Settings

log = logging.getLogger(__name__)


def connect_settings(settings: Settings) -> ConnectSettings:
    """``connect``'s own settings, from the command line's options and the variables they override."""
    return ConnectSettings(
        allow_file_store=settings.allow_file_store,
        callback_port=settings.callback_port,
        signin_timeout=settings.signin_timeout,
        http_timeout=settings.http_timeout,
    )


def profile_of(
    remote: RemoteServer, settings: ConnectSettings, client_id: str | None = None
) -> SignInProfile:
    """The remote's sign-in, with connect's settings (file store, port, timeouts)."""
    return profile_for(
        remote,
        client_id=client_id,
        allow_file_store=settings.allow_file_store,
        callback_port=settings.callback_port,
        signin_timeout=settings.signin_timeout,
        http_timeout=settings.http_timeout,
    )


def serve_connect(
    remote: RemoteServer,
    settings: ConnectSettings,
    client_id: str | None,
    *,
    max_answer_mib: float = 4.0,
    max_cache_mib: float = 8.0,
) -> int:
    """Serve ``remote`` over stdio until stdin closes or a signal stops it (the shared
    ``mcpio.runner``), reading no answer over ``max_answer_mib`` and caching no more than
    ``max_cache_mib`` of what it offers."""
    remember(remote)
    # The link reports each token the remote accepts: a sign-in it refuses from the start counts
    # as failed, so calls that follow do not each open a browser tab.
    provider = OAuthTokenProvider(profile_of(remote, settings, client_id), reports_acceptance=True)
    cache = OfferCache(remote.state_dir(), max_bytes=int(max_cache_mib * 1_048_576))
    proxy = Proxy(
        remote, provider, cache, timeout=settings.http_timeout, max_answer=int(max_answer_mib * 1_048_576)
    )
    session = runner.Session(proxy.server(), options=proxy.initialization_options(), aclose=provider.aclose)
    ended = runner.run(
        session,
        first_line=(
            f"vertex-stdio {__version__} serving {remote.url} over stdio "
            f"(cached offer: {proxy.offer is not None})"
        ),
    )
    return runner.leave(ended, "vertex-stdio connect")


def command_for(command: str, settings: Settings, args: argparse.Namespace) -> int:
    """``connect URL`` or a sign-in command with ``--server``, from the parsed command line."""
    try:
        remote = resolve(args.url, args.name) if command == "connect" else resolve(args.server)
    except ConfigError as exc:
        print(f"vertex-stdio: {exc}", file=sys.stderr)  # noqa: T201 - a usage error, before serving
        return EXIT_USAGE
    if command == "connect":
        return serve_connect(
            remote,
            connect_settings(settings),
            args.remote_client_id,
            max_answer_mib=args.max_answer_mib,
            max_cache_mib=args.max_cache_mib,
        )
    return auth_command(
        command,
        remote,
        connect_settings(settings),
        as_json=getattr(args, "as_json", False),
        scopes=getattr(args, "scope", None),
        no_browser=getattr(args, "no_browser", False),
    )


def auth_command(
    command: str,
    remote: RemoteServer,
    settings: ConnectSettings,
    *,
    as_json: bool = False,
    scopes: list[str] | None = None,
    no_browser: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """``login`` / ``logout`` / ``status`` / ``doctor`` for one remote server."""
    remember(remote)
    profile = profile_of(remote, settings)
    if command == "login":
        code: int = anyio.run(
            lambda: commands.login(profile, scopes=scopes or [], no_browser=no_browser, out=out)
        )
        return code
    if command == "logout":
        return anyio.run(lambda: commands.logout(profile, out=out))
    cache = OfferCache(remote.state_dir())
    offer = cache.load()
    cached = {name: len(offer.items(name)) for name in LISTS} if offer else None
    fields: dict[str, object] = {"server": remote.name, "cached_offer": cached}
    lines = [f"Server: {remote.name}", f"Cached offer: {_counts(cached)}"]
    if command == "status":
        return anyio.run(
            lambda: commands.status(profile, as_json=as_json, out=out, fields=fields, lines=lines)
        )
    return anyio.run(lambda: _doctor(profile, remote, out, as_json, fields, lines))


def _counts(cached: dict[str, int] | None) -> str:
    if cached is None:
        return "none yet (the first run offers the sign_in tool)"
    return ", ".join(f"{n} {name}" for name, n in cached.items())


async def _doctor(
    profile: SignInProfile,
    remote: RemoteServer,
    out: TextIO,
    as_json: bool,
    fields: dict[str, object],
    lines: list[str],
) -> int:
    """Status, plus whether the remote's sign-in metadata can be found now."""
    provider = OAuthTokenProvider(profile)
    try:
        target = await provider.target()
        found = f"ok: resource {target.resource}, authorization server {target.server.issuer}"
        code = EXIT_OK
    except VertexError as exc:
        found, code = f"failed: {exc.message}", EXIT_FIXABLE
    finally:
        await provider.aclose()
    if as_json:
        out.write(json.dumps({**fields, "discovery": found}, indent=2) + "\n")
        return code
    await commands.status(profile, as_json=False, out=out, fields=fields, lines=lines)
    out.write(f"Sign-in discovery: {found}\n")
    return code
