"""The one keep-alive rule (core/http.py) holds for every client of the HTTP edge."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
import uvicorn
from loopback import serve_in_thread
from starlette.types import Receive, Scope, Send

from vertex_stdio.core.http import KEEPALIVE_EXPIRY, make_client

pytestmark = pytest.mark.anyio


async def _port_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers each request with the client's port: which connection carried it."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(scope["client"][1]).encode()})


@pytest.fixture
def five_second_server() -> Iterator[str]:
    """uvicorn with its default 5 s keep-alive timeout (Node's is the same), on loopback."""
    assert uvicorn.Config(_port_echo).timeout_keep_alive == 5
    with serve_in_thread(_port_echo, lifespan="off") as base:
        yield f"{base}/"


@pytest.mark.slow  # waits out a 5 s keep-alive on the real clock
async def test_a_client_reuses_a_quiet_connection_and_drops_it_before_the_server_does(
    five_second_server: str,
) -> None:
    """Reused after 3 s of quiet; after 4.5 s (past our 4 s, before the server's 5 s) a new
    connection is opened, so no request is ever written into one the server is closing."""
    assert KEEPALIVE_EXPIRY < 5
    async with make_client(timeout=10.0) as client:
        first = (await client.get(five_second_server)).text
        await anyio.sleep(3.0)
        reused = (await client.get(five_second_server)).text
        await anyio.sleep(4.5)
        fresh = (await client.get(five_second_server)).text
    assert reused == first
    assert fresh != first
