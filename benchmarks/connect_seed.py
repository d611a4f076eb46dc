"""Section 6's ``vertex-stdio connect`` column: its state seeded as after a sign-in, no browser.

The loopback server accepts any bearer token and publishes no sign-in metadata, so the state a
finished sign-in leaves is written directly (through the sign-in core's own store): the cached
discovery metadata, the session with the benchmark's token (0600 file store), and the cached
offer, so ``connect`` starts as it does for a person signed in since yesterday.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
from harness import TOKEN
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from vertex_stdio.bridge.offer import Offer, OfferCache
from vertex_stdio.bridge.servers import RemoteServer, remember
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import ServerMetadata
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

CLIENT_ID = "bench-client"


def seed(url: str, home: Path) -> list[str]:
    """Write the signed-in state for ``url`` under ``home``; the argv that serves it."""
    state = home / "state" / "vertex-stdio"  # what XDG_STATE_HOME=home/state gives platformdirs
    remote = RemoteServer(url, "bench")
    remember(remote, state)
    folder = remote.state_dir(state)
    store = TokenStore(folder, FileSecrets(folder / "secrets.json"))
    server = ServerMetadata(url, f"{url}/authorize", f"{url}/token")
    entry = {"resource": url, "resource_scopes": [], "server": server.to_json(), "fetched_at": time.time()}

    async def write() -> None:
        await store.update_state(lambda data: data.setdefault("metadata", {}).__setitem__(url, entry))
        await store.save(SessionKey(url, url, CLIENT_ID), Tokens(TOKEN, None, time.time() + 86400, ()))
        async with Client(streamable_http_client(url), mode="legacy") as client:
            tools = [
                t.model_dump(by_alias=True, mode="json", exclude_none=True)
                for t in (await client.list_tools()).tools
            ]
            caps = client.server_capabilities.model_dump(by_alias=True, mode="json", exclude_none=True)
            info = client.server_info.model_dump(by_alias=True, mode="json") if client.server_info else {}
            OfferCache(folder).save(Offer(caps, info, client.instructions, {"tools": tools}, time.time()))

    with ThreadPoolExecutor(1) as pool:  # called from inside the benchmark's event loop
        pool.submit(anyio.run, write).result()
    return [sys.executable, "-m", "vertex_stdio", "connect", url, "--client-id", CLIENT_ID]
