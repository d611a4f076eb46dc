"""Opening the system browser without ever touching stdout (fd 1 carries JSON-RPC when serving).

``webbrowser`` runs in a short-lived child Python whose stdout is our stderr and whose stdin is
empty, so neither it nor any browser it launches (they inherit its descriptors) can write to fd 1.
The call runs in a worker thread, off the event loop.  ``BROWSER`` is honoured by ``webbrowser``.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

Opener = Callable[[str], Awaitable[bool]]
"""Opens a URL in the person's browser; True when a browser was launched."""

OPEN_TIMEOUT = 20.0
_SCRIPT = "import sys, webbrowser; sys.exit(0 if webbrowser.open(sys.argv[1]) else 3)"


def openable(url: str) -> bool:
    """Only absolute http(s) URLs are ever handed to a browser (never javascript:, file:, ...)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _run(url: str) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell; the URL is one argument
            [sys.executable, "-c", _SCRIPT, url],
            stdin=subprocess.DEVNULL,
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
