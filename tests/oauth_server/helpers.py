"""Helpers for the sign-in tests: a pushable clock, a provider factory, what the browser saw."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vertex_stdio.config import Settings
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.secrets import MemorySecrets
from vertex_stdio.vertexsms_signin import vertexsms_profile


class Clock:
    """A wall clock we can push forward to expire tokens."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def make(
    mcp_url: str, tmp_path: Path, store: TokenStore | None = None, **settings: object
) -> OAuthTokenProvider:
    values: dict[str, object] = {"mcp_url": mcp_url, "signin_timeout": 20.0, **settings}
    clock = values.pop("clock", None)
    s = Settings(**values).validated()  # type: ignore[arg-type]
    store = store or TokenStore(tmp_path / "state", MemorySecrets())
    return OAuthTokenProvider(vertexsms_profile(s), store=store, clock=clock)  # type: ignore[arg-type]


def page_seen(log: Path) -> str:
    """What the scripted browser saw on the callback (waits briefly: it runs in its own process)."""
    deadline = time.monotonic() + 10
    while not log.exists() or not log.read_text():
        assert time.monotonic() < deadline, "the browser never reached the callback"
        time.sleep(0.05)
    return log.read_text()


def secrets_of(store: TokenStore) -> list[str]:
    return [v for v in store.secrets._data.values()]  # type: ignore[attr-defined]


def figure(text: str) -> None:
    """Show a measured figure (run pytest with ``-s``); docs/reliability.md quotes them."""
    sys.stdout.write(f"\nFIGURE {text}\n")
