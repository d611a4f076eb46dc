"""Which remote MCP server: its URL, its short name, its storage namespace and its sign-in profile.

A server is named by its URL or by the ``--name`` it was first connected with; names are kept in
``connect-servers.json`` in the state directory, so ``login --server NAME`` finds the URL again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import ConfigError
from vertex_stdio.core.launcher import command
from vertex_stdio.core.privatefs import private_dir, write_private
from vertex_stdio.core.urls import check_url
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.oauth.storage.state import FileLock, default_state_dir
from vertex_stdio.oauth.storage.store import namespaced

log = logging.getLogger(__name__)

NAMES_FILE = "connect-servers.json"
NAMES_LOCK_TIMEOUT = 10.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_SETTINGS = ConnectSettings()


@dataclass(frozen=True)
class RemoteServer:
    """One remote MCP server as the person named it."""

    url: str
    name: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    @property
    def namespace(self) -> str:
        """The folder (and keyring service suffix) of this server's sign-in and cache."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:12]
        return f"{self.host}-{digest}"

    def state_dir(self, base: Path | None = None) -> Path:
        return namespaced(base or default_state_dir(), self.namespace)

    @property
    def server_option(self) -> str:
        return f"--server {self.name}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"--name must be 1-64 letters, digits, dots, dashes or underscores, got {name!r}.")
    return name


def _names(base: Path) -> dict[str, str]:
    try:
        data = json.loads((base / NAMES_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("%s is damaged; server names start over", base / NAMES_FILE)
        return {}
    return (
        {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(data, dict)
        else {}
    )


def remember(server: RemoteServer, base: Path | None = None) -> None:
    """Record ``server.name`` → URL (so ``--server NAME`` works from other commands).

    Under the names file's lock: a client starts several copies at once, and an unlocked write
    sweeps away another writer's temp copy as a leftover (its replace then fails and that copy
    of ``connect`` dies at start-up).
    """
    base = private_dir(base or default_state_dir())
    with FileLock(base / f"{NAMES_FILE}.lock", NAMES_LOCK_TIMEOUT).held():
        names = _names(base)
        if names.get(server.name) != server.url:
            names[server.name] = server.url
            write_private(base / NAMES_FILE, json.dumps(names, indent=1, sort_keys=True))


def resolve(url_or_name: str, name: str | None = None, base: Path | None = None) -> RemoteServer:
    """The server for a URL (named ``name``, else its host) or for a name connected before."""
    base = base or default_state_dir()
    if "://" in url_or_name:
        url = check_url("the server URL", url_or_name)
        return RemoteServer(url, check_name(name) if name else (urlsplit(url).hostname or "server"))
    known = _names(base)
    if url_or_name in known:
        return RemoteServer(known[url_or_name], url_or_name)
    for remembered, url in known.items():
        if urlsplit(url).hostname == url_or_name:
            return RemoteServer(url, remembered)
    listed = ", ".join(sorted(known)) or "none yet"
    raise ConfigError(
        f"No remote server is named {url_or_name!r} (known: {listed}). Pass its URL, e.g. "
        "--server https://mcp.example.com/mcp."
    )


def advice_for(server: RemoteServer) -> Advice:
    """connect's what-to-do sentences: every backticked command in them runs as printed here."""
    login = command(f"login {server.server_option}")
    named = f" --name {server.name}" if server.name != server.host else ""
    serve = command(f"connect {shlex.quote(server.url)}{named}")
    return Advice(
        sign_in=(
            f"Call the sign_in tool, or run `{login}` in a terminal, to sign in to {server.host} "
            "with your browser."
        ),
        file_store_setting="--allow-file-store",
        callback_port_setting="--callback-port",
        allow_file_store=f"run `{login} --allow-file-store` and add --allow-file-store to `{serve}`",
        allow_file_store_in_client=(
            "add --allow-file-store to the connect arguments in your client's config too"
        ),
        choose_callback_port="pass --callback-port with a free port",
        login_command=login,
        logout_command=command(f"logout {server.server_option}"),
        check_resource=f"Check the URL given to connect ({server.url}).",
        metadata_refused=f"Check the URL given to connect ({server.url}).",
        no_server_metadata=f"Ask the operator of {server.host} how to sign in from a desktop app.",
        no_registration=(
            f"Ask the operator of {server.host} for a client id registered for vertex-stdio and "
            f"pass it with `{serve} --client-id ID`."
        ),
        registration_failed=f"Pass a pre-registered client id with `{serve} --client-id ID`.",
        public_client="Pass a public (secret-less) client id with `--client-id ID`.",
        keyring_too_small=(
            f"Run `{login} --allow-file-store` and add --allow-file-store to `{serve}` to keep it in a "
            "private file instead."
        ),
    )


def profile_for(
    server: RemoteServer,
    settings: ConnectSettings = DEFAULT_SETTINGS,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    client_auth: str | None = None,
) -> SignInProfile:
    """The sign-in for ``server``: its own namespace, its host as the name people see, and
    connect's ``settings`` (file store, redirect port, timeouts)."""
    return SignInProfile(
        resource_url=server.url,
        display_name=server.host,
        client_name=f"vertex-stdio (local MCP bridge to {server.host})",
        advice=advice_for(server),
        client_id=client_id,
        client_secret=client_secret,
        client_auth=client_auth,
        callback_port=settings.callback_port,
        signin_timeout=settings.signin_timeout,
        http_timeout=settings.http_timeout,
        allow_file_store=settings.allow_file_store,
        namespace=server.namespace,
    )
