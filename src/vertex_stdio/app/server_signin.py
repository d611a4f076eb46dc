"""``login`` / ``logout`` / ``status`` / ``doctor`` with ``--server NAME``: the shared sign-in
commands (``app.signin``) run with the sign-in profile of a remote ``connect`` remembered.

``login --ask-client-secret`` takes a pre-registered client's secret at a hidden prompt (never
argv) and, once the sign-in succeeded, keeps it where ``connect URL --client-id ID`` finds it.
"""

from __future__ import annotations

import getpass
import json
import shlex
import sys
from typing import TextIO

import anyio

from vertex_stdio.app import signin as commands
from vertex_stdio.app.arguments import CLIENT_AUTH
from vertex_stdio.bridge.offer import LISTS, OfferCache
from vertex_stdio.bridge.servers import RemoteServer, profile_for, remember
from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, ConfigError, VertexError
from vertex_stdio.core.launcher import command as shell_command
from vertex_stdio.core.redact import register_secret
from vertex_stdio.oauth import OAuthTokenProvider
from vertex_stdio.oauth.discovery import client_secret_account
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.metadata import Client

_AUTH_FLAG = {method: flag for flag, method in CLIENT_AUTH.items()}


def profile_of(
    remote: RemoteServer,
    settings: ConnectSettings,
    client_id: str | None = None,
    client_secret: str | None = None,
    client_auth: str | None = None,
) -> SignInProfile:
    """The remote's sign-in, with connect's settings (file store, port, timeouts); ``client_auth``
    is ``--client-auth``'s method (``client_secret_basic``/``_post``), None for the server's choice."""
    return profile_for(
        remote, settings, client_id=client_id, client_secret=client_secret, client_auth=client_auth
    )


def typed_secret(client_id: str | None, inp: TextIO | None = None) -> str:
    """The pre-registered client's secret for ``login --server NAME --ask-client-secret``: typed at a
    hidden prompt when stdin is a terminal, else the first line of stdin (never argv); registered for
    redaction.  ``ConfigError`` without ``--client-id`` or for an empty secret."""
    if not client_id:
        raise ConfigError(
            "--ask-client-secret needs --client-id: the secret belongs to a pre-registered client."
        )
    inp = inp or sys.stdin
    typed = (
        getpass.getpass(f"Client secret for {client_id} (not shown): ") if inp.isatty() else inp.readline()
    )
    secret = typed.strip()
    if not secret:
        raise ConfigError("No client secret was given: type it at the prompt, or pipe it in on one line.")
    register_secret(secret)
    return secret


async def keep_typed_secret(profile: SignInProfile, secret: str) -> None:
    """After a sign-in that the secret made, keep it in the secret store (the keyring), for this
    server's issuer and client id, where ``connect URL --client-id ID`` finds it (``known_client``)."""
    provider = OAuthTokenProvider(profile)
    try:
        issuer = (await provider.target()).server.issuer
        await provider.store.save_secret(
            client_secret_account(Client(str(profile.client_id), issuer)), secret
        )
    finally:
        await provider.aclose()


def auth_command(
    command: str,
    remote: RemoteServer,
    settings: ConnectSettings,
    *,
    as_json: bool = False,
    scopes: list[str] | None = None,
    no_browser: bool = False,
    out: TextIO = sys.stdout,
    client: tuple[str | None, str | None] = (None, None),
    client_auth: str | None = None,
) -> int:
    """``login`` / ``logout`` / ``status`` / ``doctor`` for one remote server.

    ``client`` is a pre-registered client id and the secret typed for it (``login`` keeps the
    secret once its sign-in succeeded)."""
    remember(remote)
    profile = profile_of(remote, settings, *client, client_auth)
    if command == "login":
        code: int = anyio.run(
            lambda: commands.login(profile, scopes=scopes or [], no_browser=no_browser, out=out)
        )
        secret = client[1]
        if code == EXIT_OK and secret:
            anyio.run(lambda: keep_typed_secret(profile, secret))
            how = f" --client-auth {_AUTH_FLAG[client_auth]}" if client_auth else ""
            again = shell_command(
                f"connect {shlex.quote(remote.url)} --client-id {shlex.quote(str(client[0]))}{how}"
            )
            print(f"Kept the client secret in the secret store; `{again}` uses it.", file=out)
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
