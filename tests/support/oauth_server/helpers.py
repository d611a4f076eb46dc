"""Helpers for the sign-in tests: a pushable clock, a provider factory, what the browser saw."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile


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


async def bind_browser(receiver: Receiver, authorization_url: str = "https://as.example/auth") -> bytes:
    """Arm ``receiver`` and open its start URL like the person's browser: the ``Cookie:`` line to send."""
    import asyncio
    from urllib.parse import urlsplit

    receiver.arm(authorization_url)
    start = urlsplit(receiver.start_url)
    reader, writer = await asyncio.open_connection("127.0.0.1", start.port)
    writer.write(f"GET {start.path} HTTP/1.1\r\nHost: {start.netloc}\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 302"), answer[:80]
    cookie = next(line for line in answer.split(b"\r\n") if line.lower().startswith(b"set-cookie:"))
    return b"Cookie: " + cookie.split(b":", 1)[1].split(b";")[0].strip() + b"\r\n"


def run_children(count: int, state_dir: Path, mcp_url: str, **env: str) -> list[str]:
    """Start ``count`` ``child.py`` processes on one shared store (file keyring) 2 s from now; their lines."""
    import os
    import subprocess

    tests = Path(__file__).parent.parent
    full = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parents[1] / "src")]),
        "PYTHON_KEYRING_BACKEND": "oauth_server.filekeyring.FileKeyring",
        "CHILD_STATE_DIR": str(state_dir),
        "CHILD_MCP_URL": mcp_url,
        "CHILD_START_AT": str(time.time() + 2.0),
        **env,
    }
    child = [sys.executable, str(tests / "oauth_server" / "child.py")]
    procs = [
        subprocess.Popen(child, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(count)
    ]
    return [proc.communicate(timeout=40)[0].decode().strip() for proc in procs]
