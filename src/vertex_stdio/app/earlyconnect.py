"""``connect``'s first calls, answered before the SDK is loaded (``bridge/earlycall.py``, run by
``mcpio.early``), and what prepares them while the lean front answers the opening.

On when the lean call path is (``lean_calls_on``: ``VERTEX_STDIO_LEAN_CALLS=0`` or
``VERTEX_STDIO_LEAN=0`` turn it off), the cached offer answered the front (so never on Windows
nor at a terminal), and the command line asks nothing ``command_for`` refuses.  ``--header``,
``--client-secret-env``, ``--client-auth``, ``--client-metadata-url`` and the unattended sign-in
(``--client-credentials``, ``--private-key``, ``--idp-*``) are read with the link's own functions
(``connectoptions``): the early requests carry the link's headers, and the token provider made at
the first call is the link's, secret, key, ID token and metadata URL included.  With an
unattended sign-in a token must be ready before anything goes out (``EarlyLink(needs_token=True)``,
``OAuthTokenProvider.unattended_token``: the one kept from an earlier run, else the client's own
grant at the token endpoint, as the link gets it after the remote's 401), else the call is left
whole with nothing sent.  A local client that declared
elicitation, sampling or roots is taken when what the link would declare upstream for it is known
(``earlycaps.upstream``); what a 2025 remote asks it is answered as the link's SDK client answers
(``declared`` gives ``EarlyLink.declares`` the relay: ``bridge/earlyrelay.py``, imported with the
SDK at the remote's first request), the early loop asking the local client (``link.asking``).  The token is read
at the first call (keyring, and a refresh when due), never at start-up.  The SDK's loader starts once nothing has happened
for ``IDLE`` seconds (importing it beside the first call would take the GIL from it), or when a
call is left to the steady state.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import ConfigError
from vertex_stdio.mcpio.lines import json_object
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.bridge.earlycall import EarlyLink, Relay
    from vertex_stdio.mcpio.asks import Ask
    from vertex_stdio.mcpio.lean import Handover, Manifest

log = logging.getLogger("vertex_stdio")


def connect_settings(settings: Settings) -> ConnectSettings:
    """``connect``'s own settings, from the command line's options and the variables they override."""
    return ConnectSettings(
        allow_file_store=settings.allow_file_store,
        callback_port=settings.callback_port,
        signin_timeout=settings.signin_timeout,
        http_timeout=settings.http_timeout,
    )


class Loader:
    """Imports what serving ``connect`` needs on a worker thread, then wakes the front (``wake_fd``)."""

    def __init__(self) -> None:
        self.wake_fd, self._woken = os.pipe()
        self._thread = threading.Thread(target=self._load, name="vertex-stdio-loading", daemon=True)
        self._starting = threading.Lock()
        self.ready = False

    def start(self) -> None:
        """Start loading, unless it has started (from any thread)."""
        with self._starting:
            if self._thread.ident is None:
                self._thread.start()

    def join(self) -> None:
        self.start()
        self._thread.join()

    def _load(self) -> None:
        try:
            from vertex_stdio.app import connect  # noqa: F401 -- imported for its import time
            from vertex_stdio.mcpio import runner, stdio  # noqa: F401 -- the same

            runner.event_loop()
        finally:
            self.ready = True
            os.write(self._woken, b"!")


def early_link(settings: Settings, args: argparse.Namespace, manifest: Manifest) -> EarlyLink | None:
    """The first calls' tools when the early path may run (see the module's docstring), else None;
    a thread starts warming what the first call needs."""
    from vertex_stdio.app.serving import lean_calls_on

    if not lean_calls_on():
        return None
    from vertex_stdio.app.connectoptions import (
        client_auth,
        headers_from,
        machine_from,
        machine_wanted,
        secret_from_env,
        token_provider,
    )
    from vertex_stdio.bridge.earlycall import EarlyLink
    from vertex_stdio.bridge.servers import resolve

    try:
        headers = headers_from(args.header)  # the link's own (values registered for redaction)
    except ConfigError:
        return None  # a usage error, which ``command_for`` reports: nothing goes out
    if not _options_usable(args):
        return None
    remote = resolve(args.url, args.name)  # resolved already by the front: no error here
    chosen = connect_settings(settings)

    def tokens() -> Any:
        # the link's provider (``connectoptions.token_provider``), its secrets read at the first call
        secret = secret_from_env(args.client_secret_env, args.remote_client_id)
        machine = machine_from(args, secret, client_auth(args))
        return token_provider(remote, chosen, args, secret, machine)

    served = _served(manifest)
    keyed = bool(args.private_key)
    threading.Thread(target=_warm, args=(keyed,), name="vertex-stdio-warm", daemon=True).start()
    return EarlyLink(
        remote.url,
        served,
        tokens,
        headers=headers,
        timeout=chosen.http_timeout,
        max_answer=int(args.max_answer_mib * 1_048_576),
        needs_token=machine_wanted(args),
    )


def _options_usable(args: argparse.Namespace) -> bool:
    """Whether ``command_for`` takes the client secret's, the metadata URL's and the unattended
    sign-in's options (else it reports a usage error, and nothing may go out before it): the
    secret's variable is set, with its ``--client-id``; the metadata URL is an https URL with a
    path; ``machine_refused`` says no.  The secrets themselves are read at the first call."""
    from vertex_stdio.app.connectoptions import is_metadata_url, machine_refused

    variable = args.client_secret_env
    if variable is not None and not (args.remote_client_id and os.environ.get(variable, "").strip()):
        return False
    if machine_refused(args):
        return False
    return args.client_metadata_url is None or is_metadata_url(args.client_metadata_url)


def _served(manifest: Manifest) -> dict[str, bool]:
    """The tools the front listed (the cached offer's, as ``--tools`` chose), each read-only or not."""
    served: dict[str, bool] = {}
    for listed in manifest.tools.values():
        for tool in listed.get("tools", []):
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                annotations = tool.get("annotations")
                served[tool["name"]] = (
                    isinstance(annotations, dict) and annotations.get("readOnlyHint") is True
                )
    return served


def _warm(keyed: bool) -> None:
    """While the front answers: the TLS trust store first (it loads mostly outside the GIL, so it
    overlaps the imports), then what the first call imports (``keyed``: what signs a client
    assertion with ``--private-key``, ~15 ms; the key itself is read at the first call)."""
    from vertex_stdio.core.http import tls_context

    tls_context()
    import anyio._backends._asyncio  # noqa: F401 -- what ``anyio.run`` imports at the call
    import uvloop  # noqa: F401

    import vertex_stdio.bridge.earlycall
    import vertex_stdio.mcpio.early
    import vertex_stdio.oauth.provider  # noqa: F401 -- not its sign-in flows: a kept sign-in never runs one

    if keyed:
        import cryptography.hazmat.primitives.asymmetric.ec
        import cryptography.hazmat.primitives.serialization  # noqa: F401

    _keyring_backends()
    log.debug("the first call's imports are warm")


def _keyring_backends() -> None:
    """Import the keyring's backend modules (~65 ms: ``macOS.api`` looks for its library even
    elsewhere) without loading any backend: the store loads them at the first call, and reads
    nothing before it.  When ``PYTHON_KEYRING_BACKEND`` names the backend, only ``keyring`` itself:
    the keyring loads that backend alone, and importing the others would take ~55 ms of CPU from
    the first call for nothing."""
    import importlib
    from importlib import metadata

    import keyring  # noqa: F401 -- the store asks it which backend at the first call

    if os.environ.get("PYTHON_KEYRING_BACKEND", "").strip():
        return

    for entry in metadata.entry_points(group="keyring.backends"):
        with contextlib.suppress(Exception):  # a broken plugin: the keyring says so when loaded
            importlib.import_module(entry.module)


def declared(handover: Handover, manifest: Manifest) -> tuple[dict[str, Any] | None, Relay | None]:
    """What the link's SDK client would declare upstream for the local client, from its
    ``initialize`` (replayed for the SDK): ``earlycaps.upstream``, None when not known; and what
    answers the remote's requests for it as that client does (``bridge/earlyrelay.py``, imported
    with the SDK when the remote first asks)."""
    from vertex_stdio.bridge.earlycaps import upstream

    for line in handover.replay:
        if b'"initialize"' not in line:
            continue
        message = json_object(line)
        params = message.get("params") if message is not None else None
        if isinstance(params, dict) and message is not None and message.get("method") == "initialize":
            local = params.get("capabilities")
            version = manifest.negotiated(str(params.get("protocolVersion")))
            return upstream(local), _relay(local, version) if isinstance(local, dict) else None
    return None, None


def _relay(local: dict[str, Any], version: str) -> Relay:
    """The remote's requests answered as the link's SDK client answers them for a local client that
    declared ``local`` and speaks ``version``; the SDK is imported at the first of them."""

    async def relayed(request: dict[str, Any], remote: str, ask: Ask) -> dict[str, Any] | None:
        started, fresh = time.perf_counter(), "vertex_stdio.bridge.earlyrelay" not in sys.modules
        from vertex_stdio.bridge import earlyrelay

        if fresh:  # the SDK's import, on the early loop's thread: what relaying costs the first time
            took = (time.perf_counter() - started) * 1000
            log.debug(
                "the remote asked %s: the SDK was imported for it in %.0f ms", request.get("method"), took
            )
        return await earlyrelay.answer(request, remote, earlyrelay.Asked(ask, local, version))

    return relayed


def run_early_connect(handover: Handover, link: EarlyLink, loader: Loader) -> int:
    """The first calls from where the front stopped, until the SDK is wanted or ready; how many it answered."""
    import vertex_stdio.core.http  # noqa: F401 -- first what the TLS store needs: waits for the warming
    from vertex_stdio.mcpio.early import Early, run_early
    from vertex_stdio.mcpio.runner import event_loop

    early = Early(link, loader.start, loader.wake_fd, link.aclose, asks=link.asking)
    return run_early(handover, early, event_loop()[1])
