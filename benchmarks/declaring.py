"""Section 6's rows for a local client that declares roots (issue 22): ``connect`` against mcp-remote.

Most desktop clients declare roots (or sampling, elicitation) when they open a session.  A remote
of the 2025 versions may then ask such a client for its roots mid-call, so ``connect``'s early
first call depends on which versions the remote speaks.  Each pair below is ``vertex-stdio
connect`` and mcp-remote 0.15.1 under the same declaring client (its ``initialize`` declares
roots; mcp-remote passes it on) in front of the same remote, spawned afresh in the same
interleaved start-up rounds as the section's other bridges:

- the section's server (``mcp_upstream.py``, the SDK's ``MCPServer`` with its defaults), which
  answers ``server/discover``: ``connect`` opens a 2026-07-28 session there;
- the same server with ``--era 2025``: it answers ``server/discover`` as a server without it
  (-32601), so every client opens a 2025 session with ``initialize``.

mcp-remote sends ``initialize`` (the client's own) to either, so only ``connect``'s path differs.
``check_era`` proves each server speaks what its rows say before anything is timed.  The
``connect`` of the 2025-only remote also runs in the bursts (its peak RSS then counts calls in
flight, as the other rows' does); it is left out of the sequential rounds, whose direct baseline
calls the section's server only.
"""

from __future__ import annotations

from pathlib import Path

from connect_seed import seed
from harness import TOKEN
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from peers import Peer
from sidebyside import DECLARES, LEGACY, Bridge

ROOTS: dict[str, object] = {"roots": {"listChanged": True}}
ERAS = {"2026": "2026-07-28", "2025": "2025-11-25"}  # what the SDK's client opens with each server


def declaring_bridges(connect: Bridge, peer: Peer | None, home: Path, urls: tuple[str, str]) -> list[Bridge]:
    """``connect`` and mcp-remote (when installed) under a declaring client: in front of the
    section's server (``urls[0]``) and in front of the 2025-only one (``urls[1]``)."""
    url, legacy_url = urls
    found = [
        # its own argv (an -X option Python ignores), so its pid is told from connect's
        Bridge(
            f"vertex-stdio connect, {DECLARES}",
            [connect.argv[0], "-X", "variant=connect-roots", *connect.argv[1:]],
            connect.env,
            declares=ROOTS,
        ),
        Bridge(
            f"vertex-stdio connect, {DECLARES}, {LEGACY}",
            seed(legacy_url, home / "connect-2025"),
            {**connect.env, "XDG_STATE_HOME": str(home / "connect-2025" / "state")},
            declares=ROOTS,
            remote=LEGACY,
        ),
    ]
    if peer is not None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for suffix, at in ((DECLARES, url), (f"{DECLARES}, {LEGACY}", legacy_url)):
            argv, peer_env = peer.argv(at, headers), peer.env(home)
            found.append(Bridge(f"{peer.name}, {suffix}", argv, peer_env, startup_only=True, declares=ROOTS))
    return found


async def check_era(url: str, era: str) -> None:
    """Raise unless the SDK's client (``mode="auto"``, as ``connect`` negotiates) opens an ``era``
    session with ``url``: the rows would otherwise time another path than they name."""
    async with Client(streamable_http_client(url), mode="auto") as client:
        opened = client.protocol_version
    if opened != ERAS[era]:
        raise RuntimeError(
            f"section 6's {era} MCP server at {url} opened a {opened} session, not {ERAS[era]}"
        )
