"""A 2025 remote (or a proxy in front of it) that never answers the GET of a session's own event
stream costs a new connection's first request one bounded wait -- no longer than the configured
HTTP timeout -- and no other request anything.

The first call on a new connection waits until that stream was answered (``mcp_open.STREAM_WAIT``:
a JSON-answering remote sends its requests mid-call only there); a stream never answered must not
hold every request on the connection, nor wait longer than the HTTP timeout the user set.  The
remote here holds each GET until the client goes away (``hold_get=math.inf``).  Each path: the
link's (the SDK client's), the lean path's (beside it), and the early session's stream (``listen``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest
from connect_script import Script
from loopback import serve_in_thread
from test_connect_session_units import NoSignIn

from vertex_stdio.bridge.leancall import LeanLink
from vertex_stdio.bridge.link import RemoteLink
from vertex_stdio.mcpio import mcp_open
from vertex_stdio.mcpio.mcp_http import McpHttpSession

pytestmark = pytest.mark.slow  # waits on the real clock (TIMEOUT, once per path)

TIMEOUT = 1.5  # seconds (the HTTP timeout): shorter than STREAM_WAIT, so the wait is this
DONE = {"content": [{"type": "text", "text": "done: fine"}], "isError": False}


async def _twice(base: str, call: Callable[[RemoteLink], Awaitable[Any]]) -> list[float]:
    """How long each of two calls on a new link to ``base`` took (each answered ``DONE``)."""
    took = []
    async with anyio.create_task_group() as tg:
        link = RemoteLink(f"{base}/mcp", NoSignIn(), tg, host="127.0.0.1", timeout=TIMEOUT)
        try:
            for _ in range(2):
                start = time.monotonic()
                with anyio.fail_after(20):
                    assert await call(link) == DONE
                took.append(time.monotonic() - start)
        finally:
            await link.aclose()
            tg.cancel_scope.cancel()
    return took


async def _linked(link: RemoteLink) -> Any:
    params = {"name": "look", "arguments": {"how": "fine"}}
    return await link.request("tools/call", params, interactive=False, retry=True)


def _lean(base: str) -> Callable[[RemoteLink], Awaitable[Any]]:
    async def notified(_: Any) -> None:
        return None

    made: dict[str, LeanLink] = {}

    async def called(link: RemoteLink) -> Any:
        lean = made.setdefault(
            "lean",
            LeanLink(
                lambda: link,
                f"{base}/mcp",
                lambda _: True,
                lambda e: e,
                notified,
                NoSignIn(),
                timeout=TIMEOUT,
            ),
        )
        prepared = lean.prepare("look", {"how": "fine"})
        assert prepared is not None
        return await prepared()

    return called


@pytest.mark.parametrize("path", ["link", "lean"])
@pytest.mark.anyio
async def test_a_stream_never_answered_costs_one_wait_no_longer_than_the_http_timeout(path: str) -> None:
    script = Script(json_response=True, era="2025", hold_get=math.inf)
    with serve_in_thread(script) as base:
        first, second = await _twice(base, _linked if path == "link" else _lean(base))
    assert TIMEOUT <= first < mcp_open.STREAM_WAIT, first  # before: STREAM_WAIT (3 s), whatever the timeout
    assert second < TIMEOUT, second  # before: each request waited again
    assert dict(script.seen) == {"look:fine": 2}


@pytest.mark.anyio
async def test_the_early_sessions_stream_never_answered_ends_the_wait_once() -> None:
    """``listen`` sets ``answered`` when its ``wait`` is over (the early path's calls each wait for it)."""
    script = Script(json_response=True, era="2025", hold_get=math.inf)
    with serve_in_thread(script) as base:
        async with httpx2.AsyncClient() as http:
            session = McpHttpSession(f"{base}/mcp", http, era="auto")
            await mcp_open.opened(session)
            answered = anyio.Event()
            start = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(mcp_open.listen, session, answered)
                with anyio.fail_after(mcp_open.STREAM_WAIT + 5):
                    await answered.wait()  # before: never set
                took = time.monotonic() - start
                tg.cancel_scope.cancel()
            await session.close()
    assert mcp_open.STREAM_WAIT <= took < mcp_open.STREAM_WAIT + 2, took
