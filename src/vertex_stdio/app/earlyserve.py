"""The first hosted calls of ``serve``, answered before the SDK is loaded (``mcpio.early``).

``Warm`` decides whether they may be and prepares them while the lean front answers the
opening; ``run_early_calls`` runs them from where the front stopped.  They need a token the
first call can use without a person: a token given (``VERTEXSMS_API_TOKEN``), the sandbox's own
(its hosted tools answered in this process until the emulator is up: ``vertexsms/sandboxcalls.py``),
or a kept sign-in -- the token ``login --token`` kept, or a browser sign-in's session -- read at
the first call (keyring, and a refresh of the access token when due), never at start-up.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.core.errors import VertexError
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.app.serving import Loading
    from vertex_stdio.mcpio.lean import Handover
    from vertex_stdio.mcpio.leancalls import ToolCalls

log = logging.getLogger("vertex_stdio")
DECIDE_WAIT = 10.0  # seconds the first call waits for ``Warm``'s look at the state files, at most


class Warm:
    """A thread that prepares the first lean call while the front answers the opening.

    With no token given and not in the sandbox it first looks whether a sign-in is kept
    (``sign_in_kept``: state files only); with none, the early path is off and it starts the
    SDK's loader at once (the first call then needs a sign-in, which the SDK's session asks for).
    Then it loads the TLS trust store the call will use -- first: loading it (~20-40 ms, cached
    for the process) runs mostly outside the GIL, so started at once it overlaps the imports
    instead of following them -- and imports what the call needs, so the call does not wait for
    them (a client sends its first call right after ``tools/list``).  The sandbox's need no network.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._decided, self._attached = threading.Event(), threading.Event()
        self._loading: Loading | None = None
        self._on = True
        threading.Thread(target=self._run, name="vertex-stdio-warm", daemon=True).start()

    @classmethod
    def started(cls, settings: Settings, config_error: str | None) -> Warm | None:
        """A ``Warm`` at work when the early path can run: the lean call path on
        (``lean_calls_on``), settings without error, not Windows (no lean front there)."""
        from vertex_stdio.app.serving import lean_calls_on

        if config_error is not None or sys.platform == "win32" or not lean_calls_on():
            return None
        return cls(settings)

    def attach(self, loading: Loading | None) -> None:
        """The SDK's loader this thread starts when no token is at hand (None: none to start)."""
        self._loading = loading
        self._attached.set()

    def on(self) -> bool:
        """Whether the early path runs (waits, bounded, for the look at the state files)."""
        return self._decided.wait(DECIDE_WAIT) and self._on

    def _run(self) -> None:
        settings = self._settings
        try:
            if not (settings.sandbox or settings.api_token):
                self._on = False  # unless a sign-in is found
                self._on = sign_in_kept(settings)
        except Exception:  # unsure: the SDK's session finds out, and says it
            log.debug("could not tell whether a sign-in is kept", exc_info=True)
        finally:
            self._decided.set()
        if not self._on:
            self._attached.wait()  # the loader starts once stdin and stdout are the wire's
            if self._loading is not None:
                self._loading.start()
            return
        if not settings.sandbox:
            from vertex_stdio.core.http import tls_context

            tls_context()
        import anyio._backends._asyncio  # noqa: F401 -- what ``anyio.run`` imports at the call
        import uvloop  # noqa: F401

        import vertex_stdio.mcpio.early
        import vertex_stdio.vertexsms.leancall

        if settings.sandbox:
            import vertex_stdio.vertexsms.sandboxcalls
        else:
            import vertex_stdio.vertexsms.api.remote  # noqa: F401


def sign_in_kept(settings: Settings) -> bool:
    """Whether a sign-in is kept that a call may use without a person: the token ``login --token``
    kept, or a browser sign-in's session (or a machine client) in the state file.  One or two
    file reads: no keyring, no network (the token itself is read at the first call)."""
    from vertex_stdio.oauth.storage.state import STATE_FILE, StateFile, default_state_dir
    from vertex_stdio.oauth.storage.store import namespaced
    from vertex_stdio.vertexsms.apitoken import kept_here
    from vertex_stdio.vertexsms.signin import vertexsms_profile

    if kept_here() is not None:
        return True
    profile = vertexsms_profile(settings)
    try:
        state = StateFile(namespaced(default_state_dir(), profile.namespace) / STATE_FILE).read()
    except VertexError:  # an unsafe state directory: the SDK's session says so
        return False
    return bool(state.get("sessions")) or profile.machine is not None


def run_early_calls(settings: Settings, handover: Handover, loading: Loading) -> int:
    """The lean call path from where the front stopped, over its own connection (closed after:
    its event loop ends there) or, in the sandbox, in this process, until the SDK is wanted or
    ready.  Returns how many calls it answered."""
    if not settings.sandbox:  # first what the TLS store needs (``Warm`` is loading it, and then
        import vertex_stdio.core.http  # noqa: F401 -- the store): waits for it, not beside it
    from vertex_stdio.mcpio.early import Early, run_early
    from vertex_stdio.mcpio.runner import event_loop

    tools, aclose = _early_tools(settings)
    return run_early(handover, Early(tools, loading.start, loading.wake_fd, aclose), event_loop()[1])


def _early_tools(settings: Settings) -> tuple[ToolCalls, Callable[[], Awaitable[None]]]:
    """The hosted tools for the early calls, and what closes them."""
    from vertex_stdio.vertexsms.leancall import HostedCalls

    if settings.sandbox:
        from vertex_stdio.vertexsms.sandbox.tokens import SANDBOX_TOKEN
        from vertex_stdio.vertexsms.sandboxcalls import InProcessHosted

        local = InProcessHosted()  # what the emulator's /mcp answers its own token
        sandbox = StaticTokenProvider(SANDBOX_TOKEN, source="sandbox")
        return HostedCalls(local, sandbox, sandbox=True), local.aclose
    from vertex_stdio.app.serving import token_provider
    from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream

    tokens = token_provider(settings)  # a kept token or sign-in is read at its first use
    hosted = HostedMcpUpstream(settings.mcp_url, tokens, timeout=settings.http_timeout)

    async def aclose() -> None:
        await hosted.aclose()
        await tokens.aclose()

    return HostedCalls(hosted, tokens, sandbox=False), aclose
