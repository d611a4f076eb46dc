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

import anyio
import httpx2
import pytest
from connect_script import Script
from link_pair import lean_beside, lean_call, link_call, linked
from loopback import serve_in_thread

from vertex_stdio.mcpio import mcp_open
from vertex_stdio.mcpio.mcp_http import McpHttpSession

pytestmark = pytest.mark.slow  # waits on the real clock (TIMEOUT, once per path)

TIMEOUT = 1.5  # seconds (the HTTP timeout): shorter than STREAM_WAIT, so the wait is this
DONE = {"content": [{"type": "text", "text": "done: fine"}], "isError": False}


async def _twice(url: str, path: str) -> list[float]:
    """How long each of two calls on a new link to ``url`` took (each answered ``DONE``)."""
    took = []
    async with linked(url, timeout=TIMEOUT) as link:
        lean = lean_beside(link, url, timeout=TIMEOUT)
        for _ in range(2):
            start = time.monotonic()
            with anyio.fail_after(20):
                if path == "lean":
                    assert await lean_call(lean, "look", {"how": "fine"}) == DONE
                else:
                    assert await link_call(link, "look", {"how": "fine"}) == DONE
            took.append(time.monotonic() - start)
    return took


@pytest.mark.parametrize("path", ["link", "lean"])
@pytest.mark.anyio
async def test_a_stream_never_answered_costs_one_wait_no_longer_than_the_http_timeout(path: str) -> None:
    script = Script(json_response=True, era="2025", hold_get=math.inf)
    with serve_in_thread(script) as base:
        first, second = await _twice(f"{base}/mcp", path)
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
