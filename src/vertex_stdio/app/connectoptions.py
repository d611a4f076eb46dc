"""``connect``'s options that shape what its requests carry and how its token is got: the extra
headers, the client secret, ``--client-auth``, the client ID metadata document's URL, the
unattended sign-in (``machine_from``), and the token provider they make.  SDK-free: the link (``app/connect.py``) and the first calls answered
before the SDK is loaded (``app/earlyconnect.py``) read them with the same functions, so the two
send alike.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vertex_stdio.app.arguments import CLIENT_AUTH
from vertex_stdio.bridge.servers import RemoteServer, profile_for
from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import ConfigError
from vertex_stdio.core.redact import register_secret
from vertex_stdio.core.urls import check_url
from vertex_stdio.oauth.protocol.unattended import CrossApp, Machine

if TYPE_CHECKING:
    from vertex_stdio.oauth import OAuthTokenProvider

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_OURS = frozenset(
    {"host", "content-length", "content-type", "accept", "mcp-session-id", "mcp-protocol-version"}
)


def headers_from(options: list[str] | None) -> dict[str, str]:
    """``--header NAME=VAR``: NAME with the value of environment variable VAR (registered for
    redaction; never given literally in argv); ``ConfigError`` for a malformed or unset one."""
    headers: dict[str, str] = {}
    for option in options or ():
        name, sep, variable = option.partition("=")
        name, variable = name.strip(), variable.strip()
        if not sep or not _HEADER_NAME.match(name) or not variable:
            raise ConfigError(
                f"--header takes NAME=VAR (VAR: an environment variable holding the value), got {option!r}."
            )
        if name.lower() in _OURS:
            raise ConfigError(f"--header {name}: this header belongs to the MCP transport and cannot be set.")
        value = os.environ.get(variable, "").strip()
        if not value or any(c in value for c in "\r\n\x00"):
            raise ConfigError(
                f"--header {name}={variable}: {variable} is not set in the environment (or is not one line)."
            )
        register_secret(value)
        headers[name] = value
    return headers


def secret_from_env(variable: str | None, client_id: str | None) -> str | None:
    """The client secret from the environment variable named by ``--client-secret-env`` (registered
    for redaction); ``ConfigError`` when it is unset or there is no ``--client-id`` it belongs to."""
    if variable is None:
        return None
    if not client_id:
        raise ConfigError(
            "--client-secret-env needs --client-id: the secret belongs to a pre-registered client."
        )
    secret = os.environ.get(variable, "").strip()
    if not secret:
        raise ConfigError(
            f"--client-secret-env names {variable}, which is not set (or empty) in the environment."
        )
    register_secret(secret)
    return secret


def client_auth(args: argparse.Namespace) -> str | None:
    """``--client-auth basic|post`` as the RFC 8414 method it names, None when not given."""
    chosen = getattr(args, "client_auth", None)
    return CLIENT_AUTH[chosen] if chosen else None


def is_metadata_url(url: str) -> bool:
    """A client ID metadata document's URL: https, a host, a path (draft-ietf-oauth-client-id-metadata-document)."""
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and parts.path not in ("", "/")
        and not parts.fragment
    )


def token_provider(
    remote: RemoteServer,
    settings: ConnectSettings,
    args: argparse.Namespace,
    secret: str | None,
    machine: Machine | None = None,
) -> OAuthTokenProvider:
    """The remote's token provider for ``connect``'s command line (``--client-id``, the client
    ``secret``, ``--client-auth``, ``--client-metadata-url``, the unattended sign-in ``machine``),
    reporting each token the remote accepts: a sign-in it refuses from the start counts as failed,
    so calls that follow do not each open a browser tab."""
    from dataclasses import replace

    from vertex_stdio.oauth import OAuthTokenProvider

    profile = profile_for(
        remote, settings, client_id=args.remote_client_id, client_secret=secret, client_auth=client_auth(args)
    )
    return OAuthTokenProvider(
        replace(profile, machine=machine),
        client_metadata_url=args.client_metadata_url,
        reports_acceptance=True,
    )


def _cross(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    return args.idp_token_endpoint, args.idp_client_id, args.idp_id_token_env


def machine_wanted(args: argparse.Namespace) -> bool:
    """Whether the command line asks an unattended sign-in (``--client-credentials``,
    ``--private-key``, ``--idp-*``)."""
    return bool(args.client_credentials or args.private_key or any(_cross(args)))


def machine_from(args: argparse.Namespace, secret: str | None, auth: str | None = None) -> Machine | None:
    """The unattended sign-in the options ask for (client credentials, a key, cross-app), or None;
    the key file and the ID token's variable are read here (the ID token registered for redaction)."""
    if not machine_wanted(args):
        return None
    from vertex_stdio.oauth.machine import read_private_key  # lazy: ``cryptography``, rarely used

    if not args.remote_client_id:
        raise ConfigError("An unattended sign-in needs --client-id: the client signs in as itself.")
    key = read_private_key(args.private_key) if args.private_key else None
    cross_app = None
    cross = _cross(args)
    if any(cross):
        if not all(cross):
            raise ConfigError(
                "Cross-app access needs --idp-token-endpoint, --idp-client-id and --idp-id-token-env."
            )
        id_token = os.environ.get(args.idp_id_token_env, "").strip()
        if not id_token:
            raise ConfigError(
                f"--idp-id-token-env names {args.idp_id_token_env}, which is not set (or empty)."
            )
        register_secret(id_token)
        cross_app = CrossApp(
            check_url("--idp-token-endpoint", args.idp_token_endpoint), args.idp_client_id, id_token
        )
    if key is None and secret is None:
        raise ConfigError("An unattended sign-in needs the client's --client-secret-env or --private-key.")
    return Machine(args.remote_client_id, secret, key, cross_app, auth)


def machine_refused(args: argparse.Namespace) -> bool:
    """Whether ``machine_from`` refuses the command line for what can be told without reading a
    secret: the key file and the ID token are not read (an unreadable key is refused when
    ``machine_from`` reads it, at the first call); the ID token's variable is only looked at for
    being set, as ``_options_usable`` looks at the client secret's."""
    if not machine_wanted(args):
        return False
    if not args.remote_client_id:
        return True
    cross = _cross(args)
    if any(cross):
        if not all(cross) or not os.environ.get(args.idp_id_token_env, "").strip():
            return True
        try:
            check_url("--idp-token-endpoint", args.idp_token_endpoint)
        except ConfigError:
            return True
    return not args.private_key and args.client_secret_env is None
