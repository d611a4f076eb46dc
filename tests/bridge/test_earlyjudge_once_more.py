"""A read ``connect``'s early path sent whose connection broke (``Captured.sent``) is the SDK
path's, sent once more only: ``JudgedFirst`` marks it on the proxy's link
(``RemoteLink.sent_before``) before the SDK path sends it, so the remote receives it at most twice.

In-process, against ``connect_script``'s remote: the link is there, no local session yet (the
call's own line is the first the SDK handles), and the call's answer stream ends unanswered
(``sse-unanswered``, a broken connection), so an unmarked read is sent once more by the link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from connect_script import Script
from link_pair import lean_beside, link_call, linked
from loopback import serve_in_thread

from vertex_stdio.bridge.earlycall import Captured
from vertex_stdio.bridge.earlyjudge import LINK_WAIT, JudgedFirst
from vertex_stdio.bridge.link import RemoteLink
from vertex_stdio.core.errors import UpstreamUnavailable
from vertex_stdio.mcpio.leancalls import Prepared

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
BROKEN = {"how": "sse-unanswered"}


@asynccontextmanager
async def _first_read(proxy_has_link: bool) -> AsyncIterator[tuple[Prepared, RemoteLink, Script]]:
    """The steady state's answer to ``look`` that the early path sent and whose connection broke
    (``JudgedFirst``), the link it would be sent on, and the remote; no local session yet, and
    with ``proxy_has_link`` False the proxy's lifespan has not made its link either."""
    script = Script()
    with serve_in_thread(script) as base:
        url = f"{base}/mcp"
        async with linked(url, timeout=TIMEOUT) as link:
            made = link if proxy_has_link else None
            captured = [Captured("look", dict(BROKEN), sent=True)]
            lean = lean_beside(link, url, timeout=TIMEOUT)
            judged = JudgedFirst(
                lean, captured, lambda serving: None if serving else made, lambda e: e, timeout=TIMEOUT
            )
            prepared = judged.prepare("look", dict(BROKEN))
            assert prepared is not None
            yield prepared, link, script


async def test_a_read_sent_early_is_marked_before_a_local_session_is_there() -> None:
    async with _first_read(proxy_has_link=True) as (prepared, link, script):
        with anyio.fail_after(LINK_WAIT / 2):  # before: it waited LINK_WAIT for a local session
            assert await prepared() is None  # the SDK path's
        with pytest.raises(UpstreamUnavailable):
            await link_call(link, "look", dict(BROKEN))
    assert script.seen["look:sse-unanswered"] == 1  # before: 2 (the early path's makes 3)


@pytest.mark.slow  # waits LINK_WAIT (10 s) on the real clock
async def test_a_read_sent_early_with_no_link_to_mark_it_on_is_not_sent_again() -> None:
    async with _first_read(proxy_has_link=False) as (prepared, _, script):
        with anyio.fail_after(LINK_WAIT + 5):
            result = await prepared()
    assert result is not None  # before: None, the SDK path's, unmarked
    assert result["isError"] is True
    assert "UPSTREAM_UNAVAILABLE" in result["content"][0]["text"]
    assert "not sent again" in result["content"][0]["text"]
    assert script.seen == {}
