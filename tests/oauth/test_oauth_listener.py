"""The bounded loopback listener: it never holds more connections than its cap (drawn from the
descriptor limit), sheds idle ones to accept more, and still answers the one that speaks."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from vertex_stdio.oauth.io.idle import RESERVE, IdleConnections, connection_cap
from vertex_stdio.oauth.io.listener import LoopbackListener

pytestmark = pytest.mark.anyio

LIMIT = RESERVE + 16  # a descriptor limit that leaves this listener a cap of 8
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _listener() -> LoopbackListener:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        finally:
            listener.idle.spoke(writer)
        writer.write(ANSWER)
        await writer.drain()

    listener = LoopbackListener(handle, limit=8192, idle=IdleConnections(limit=LIMIT))
    return listener


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 0.01) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def test_a_flood_of_silent_connections_never_exceeds_the_cap_and_the_request_is_answered() -> None:
    """40 silent connections against a cap of 8: at most 8 held at once, the oldest shed, and a
    request sent after them all is answered."""
    assert connection_cap(LIMIT) == 8
    listener = _listener()
    await listener.start()
    silent = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(40)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 30) == ANSWER
        writer.close()
        shed = [await _closed_by_server(r) for r, _ in silent]
        assert sum(shed) >= 40 - 8  # all but the last few the cap holds were closed to make room
        assert 1 < listener.peak <= 8
    finally:
        for _, w in silent:
            w.close()
        await listener.aclose()


async def test_close_stops_accepting_at_once_and_drops_the_idle() -> None:
    """After ``close`` the port refuses connections and the idle ones it held are closed."""
    listener = _listener()
    await listener.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    for _ in range(100):  # until the listener has taken it in
        if len(listener.idle):
            break
        await asyncio.sleep(0.01)
    assert len(listener.idle) == 1
    listener.close()
    assert not listener.listening
    assert await asyncio.wait_for(reader.read(), 5) == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", listener.port)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    await listener.aclose()
    assert listener.held == 0
