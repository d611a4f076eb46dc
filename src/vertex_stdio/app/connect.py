"""The ``connect`` command, and the dispatch of ``login`` / ``logout`` / ``status`` / ``doctor``
with ``--server`` (run by ``server_signin``).

``connect URL`` serves the remote over stdio; stdout carries JSON-RPC only.  Its options become
the client secret, the unattended sign-in, the extra headers and the caps here.  Exit codes as for
every command.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from dataclasses import dataclass, field, replace

import anyio

from vertex_stdio import __version__
from vertex_stdio.app.connectoptions import (
    client_auth,
    headers_from,
    is_metadata_url,
    machine_from,
    secret_from_env,
    token_provider,
)
from vertex_stdio.app.earlyconnect import connect_settings
from vertex_stdio.app.server_signin import auth_command, typed_secret
from vertex_stdio.app.serving import lean_calls_on
from vertex_stdio.bridge import signin_tool
from vertex_stdio.bridge.earlycall import Captured
from vertex_stdio.bridge.earlyjudge import JudgedFirst
from vertex_stdio.bridge.leanoffer import remember_answers
from vertex_stdio.bridge.offer import OfferCache
from vertex_stdio.bridge.proxy import Proxy
from vertex_stdio.bridge.selection import ToolFilter
from vertex_stdio.bridge.servers import RemoteServer, remember, resolve
from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import EXIT_USAGE, ConfigError
from vertex_stdio.mcpio import runner
from vertex_stdio.mcpio.lean import Handover
from vertex_stdio.mcpio.leancalls import ToolCalls
from vertex_stdio.oauth import OAuthTokenProvider
from vertex_stdio.vertexsms.settings import Settings

log = logging.getLogger(__name__)


def serve_connect(
    remote: RemoteServer,
    settings: ConnectSettings,
    provider: OAuthTokenProvider,
    extra: Extra | None = None,
    handover: Handover | None = None,
    captured: list[Captured] | None = None,
) -> int:
    """Serve ``remote`` over stdio until stdin closes or a signal stops it (the shared
    ``mcpio.runner``), signed in by ``provider`` (``connectoptions.token_provider``), reading no
    answer over ``extra.max_answer_mib`` and caching no more than ``extra.max_cache_mib`` of what
    it offers.  ``handover``: where the lean front stopped (``app/connectfront.py``); the SDK's
    ``initialize`` answers for a cached offer are kept for it.  ``captured``: the first calls the
    early path left (``bridge/earlycall.py``), answered first."""
    remember(remote)
    extra = extra or Extra()
    cache = OfferCache(remote.state_dir(), max_bytes=int(extra.max_cache_mib * 1_048_576))
    proxy = Proxy(
        remote,
        provider,
        cache,
        timeout=settings.http_timeout,
        max_answer=int(extra.max_answer_mib * 1_048_576),
        tool_filter=extra.tools,
        headers=extra.headers,
    )
    session = runner.Session(
        proxy.server(),
        options=proxy.initialization_options(),
        aclose=provider.aclose,
        hosted=provider,
        lean=_lean(proxy, captured, settings.http_timeout) if lean_calls_on() else None,
    )
    ended = runner.run(
        _fronted(session, remote, proxy, handover),
        first_line=(
            f"vertex-stdio {__version__} serving {remote.url} over stdio "
            f"(cached offer: {proxy.offer is not None})"
        ),
    )
    return runner.leave(ended, "vertex-stdio connect")


def _lean(proxy: Proxy, captured: list[Captured] | None, timeout: float) -> ToolCalls:
    """The lean call path (``VERTEX_STDIO_LEAN_CALLS=0``: the SDK path only), the first calls the
    early path left answered from their outcome (``bridge/earlyjudge.py``)."""
    if not captured:
        return proxy.lean()
    worded = functools.partial(signin_tool.worded, remote=proxy.remote)
    return JudgedFirst(
        proxy.lean(), captured, lambda serving: proxy.linked(serving=serving), worded, timeout=timeout
    )


def _fronted(
    session: runner.Session, remote: RemoteServer, proxy: Proxy, handover: Handover | None
) -> runner.Session:
    """``session`` after the lean front (``handover``); the SDK's ``initialize`` answers for the
    cached offer are kept for the next start's front (``bridge/leanoffer.py``)."""
    if proxy.offer is not None and session.options is not None:
        offer = proxy.offer.to_json()
        anyio.run(remember_answers, remote.state_dir(), offer, proxy.server(), session.options)
    return replace(session, handover=handover)


def command_for(
    command: str,
    settings: Settings,
    args: argparse.Namespace,
    handover: Handover | None = None,
    captured: list[Captured] | None = None,
) -> int:
    """``connect URL`` or a sign-in command with ``--server``, from the parsed command line."""
    try:
        remote = resolve(args.url, args.name) if command == "connect" else resolve(args.server)
    except ConfigError as exc:
        print(f"vertex-stdio: {exc}", file=sys.stderr)  # noqa: T201 - a usage error, before serving
        return EXIT_USAGE
    if command == "connect":
        metadata_url = args.client_metadata_url
        if metadata_url is not None and not is_metadata_url(metadata_url):
            print(  # noqa: T201 - a usage error, before serving
                "vertex-stdio: --client-metadata-url must be an https URL with a path "
                f"(a client ID metadata document), got {metadata_url!r}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            secret = secret_from_env(args.client_secret_env, args.remote_client_id)
            machine = machine_from(args, secret, client_auth(args))
            headers = headers_from(args.header)
        except ConfigError as exc:
            print(f"vertex-stdio: {exc}", file=sys.stderr)  # noqa: T201 - a usage error, before serving
            return EXIT_USAGE
        chosen = ToolFilter.of(args.tools, args.exclude_tools)
        settings_chosen = connect_settings(settings)
        return serve_connect(
            remote,
            settings_chosen,
            token_provider(remote, settings_chosen, args, secret, machine),
            extra=Extra(headers, chosen, args.max_answer_mib, args.max_cache_mib),
            handover=handover,
            captured=captured,
        )
    secret = None
    if getattr(args, "ask_client_secret", False):
        try:
            secret = typed_secret(getattr(args, "client_id", None))
        except ConfigError as exc:
            print(f"vertex-stdio: {exc}", file=sys.stderr)  # noqa: T201 - a usage error
            return EXIT_USAGE
    return auth_command(
        command,
        remote,
        connect_settings(settings),
        as_json=getattr(args, "as_json", False),
        scopes=getattr(args, "scope", None),
        no_browser=getattr(args, "no_browser", False),
        client=(getattr(args, "client_id", None), secret),
        client_auth=client_auth(args),
    )


@dataclass(frozen=True)
class Extra:
    """What else the person asked of the connection: headers (values from the environment), tools, caps."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    tools: ToolFilter = field(default_factory=ToolFilter)
    max_answer_mib: float = 4.0
    max_cache_mib: float = 8.0
