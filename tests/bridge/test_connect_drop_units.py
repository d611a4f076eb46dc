"""``RemoteLink`` and the lean calls when a connection breaks with reads in flight: each failure
drops only the connection its request went on, so none closes the one another request just opened.

In-process against the SDK's own stateful Streamable HTTP server (a 2025 session, on loopback in a
thread; ``test_connect_session_units.Remote``), through a transport seam (``Breaking``) that loses
answers as a broken connection does: the remote ran the call, its answer never comes back.  The
first read's answer breaks at once; the other reads' (in flight on the same connection) break
only once the link has opened a new session -- they learn of the break later, as requests on
other sockets of a broken path do.  Before the fix each of those failures closed "the
connection", by then the new one, and a read sent again on it failed a second time.
The process test against a real remote that dies is tests/bridge/test_connect_session_drop.py.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from link_pair import lean_beside, lean_call, link_call, linked
from test_connect_session_units import Remote, forgetful

from vertex_stdio.bridge.link import RemoteLink

pytestmark = pytest.mark.anyio
READS = range(1, 7)


class Breaking(httpx2.AsyncBaseTransport):
    """Loopback HTTP, except the answers to ``look`` on the first session: the remote runs it, and
    the answer is lost (``ReadError``) -- look 1's once every read is in flight there, the
    others' once a second ``initialize`` was answered (a new session opened)."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: Counter[int] = Counter()
        self.armed = False
        self._first: str | None = None  # the first session's id: its connection is the broken one
        self._reopened, self._all_in = anyio.Event(), anyio.Event()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        message = _message(request)
        response = await self._inner.handle_async_request(request)
        if message.get("method") == "initialize":
            if self._first is None:
                self._first = response.headers.get("mcp-session-id")
            else:
                self._reopened.set()
        params = message.get("params") or {}
        if not self.armed or message.get("method") != "tools/call" or params.get("name") != "look":
            return response
        n = params["arguments"]["n"]
        self.sent[n] += 1
        if request.headers.get("mcp-session-id") != self._first:
            return response
        await response.aread()  # the remote ran it; its answer is lost
        await response.aclose()
        if len(self.sent) == len(READS):
            self._all_in.set()
        await (self._all_in if n == 1 else self._reopened).wait()
        raise httpx2.ReadError("connection broken", request=request)

    async def aclose(self) -> None:
        """Each connection's HTTP client closes its transport: this one outlives them (``shut``)."""

    async def shut(self) -> None:
        await self._inner.aclose()


def _message(request: httpx2.Request) -> dict[str, Any]:
    if request.method != "POST":
        return {}
    try:
        found = json.loads(request.content)
    except (httpx2.RequestNotRead, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


@pytest.fixture
def remote() -> Iterator[tuple[str, Remote]]:
    with forgetful() as served:
        yield served


@pytest.fixture
async def wired(remote: tuple[str, Remote]) -> AsyncIterator[tuple[RemoteLink, Breaking]]:
    breaking = Breaking()
    try:
        async with linked(remote[0], timeout=10.0, transport=breaking) as link:
            yield link, breaking
    finally:
        await breaking.shut()


async def _all(look: Callable[[int], Awaitable[str]]) -> dict[int, str]:
    """Each read's answer (or its failure's words), all sent at once."""
    answers: dict[int, str] = {}

    async def one(n: int) -> None:
        try:
            answers[n] = await look(n)
        except Exception as exc:  # noqa: BLE001 -- a read that failed is what the test reports
            answers[n] = f"failed: {exc}"

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in READS:
                tg.start_soon(one, n)
    return answers


def _checked(answers: dict[int, str], app: Remote, breaking: Breaking) -> None:
    assert answers == {n: f"looked {n}" for n in READS}
    assert app.initializes == 2  # the first session, and the one new session for every read
    for n in READS:  # sent once more, once: the remote ran each twice (its first answer was lost)
        assert breaking.sent[n] == app.ran[f"look {n}"] == 2, (n, breaking.sent, app.ran)


async def _text(answer: Awaitable[dict[str, Any]]) -> str:
    text: str = (await answer)["content"][0]["text"]
    return text


async def test_lean_reads_on_a_broken_connection_open_one_new_one(
    remote: tuple[str, Remote], wired: tuple[RemoteLink, Breaking]
) -> None:
    link, breaking = wired
    await link.session(interactive=False)
    lean = lean_beside(link, remote[0], timeout=10.0)
    breaking.armed = True
    _checked(await _all(lambda n: _text(lean_call(lean, "look", {"n": n}))), remote[1], breaking)


async def test_link_path_reads_failing_after_a_lean_one_keep_its_new_connection(
    remote: tuple[str, Remote], wired: tuple[RemoteLink, Breaking]
) -> None:
    """As in ``connect``: lean calls and the SDK client's own requests (a call with a progress
    token, a list) on one connection.  The lean read's failure drops it; the SDK client's reads on
    it fail as it closes, after the lean read began opening a new one: they must leave that open."""
    link, breaking = wired
    await link.session(interactive=False)
    lean = lean_beside(link, remote[0], timeout=10.0)
    breaking.armed = True

    def look(n: int) -> Awaitable[str]:
        return _text(lean_call(lean, "look", {"n": n}) if n == 1 else link_call(link, "look", {"n": n}))

    _checked(await _all(look), remote[1], breaking)
