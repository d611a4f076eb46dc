"""Opening the system browser without ever touching stdout (fd 1 carries JSON-RPC when serving).

``webbrowser`` runs in a short-lived child Python whose stdout is our stderr, so neither it nor
any browser it launches (they inherit its descriptors) can write to fd 1.  The URL reaches the
child on its stdin, never in its argv (``/proc/<pid>/cmdline`` is readable by every local user),
and the child's environment carries no variable named like a secret (``*_TOKEN``, ``*SECRET*``,
``*PASSWORD*``, ``*_KEY``).  The call runs in a worker thread, off the event loop.  ``BROWSER`` is
honoured by ``webbrowser``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Opener = Callable[[str], Awaitable[bool]]
"""Opens a URL in the person's browser; True when a browser was launched."""

OPEN_TIMEOUT = 20.0
_SCRIPT = "import sys, webbrowser; sys.exit(0 if webbrowser.open(sys.stdin.readline().strip()) else 3)"
_SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIALS", "APIKEY"})


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without variables whose name marks a secret (e.g. a pasted ``..._API_TOKEN``)."""
    return {k: v for k, v in environ.items() if not _SECRET_WORDS & set(k.upper().split("_"))}


def openable(url: str) -> bool:
    """Only absolute http(s) URLs are ever handed to a browser (never javascript:, file:, ...)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _run(url: str) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell; the URL goes over stdin
            [sys.executable, "-c", _SCRIPT],
            input=f"{url}\n".encode(),
            env=child_environment(os.environ),
            stdout=2,
            stderr=2,
            timeout=OPEN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not start a browser: %s", type(exc).__name__)
        return False
    return done.returncode == 0


async def open_in_browser(url: str) -> bool:
    """The default ``Opener``: ``webbrowser.open`` in a child process, from a worker thread."""
    if not openable(url):
        log.warning("refusing to open a non-http(s) sign-in URL")
        return False
    return await asyncio.to_thread(_run, url)
