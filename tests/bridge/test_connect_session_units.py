"""``RemoteLink`` when the remote ends its session, in-process against the SDK's own stateful
Streamable HTTP server (on loopback, in a thread; a 2025 session: it refuses ``server/discover``).

The server ends the session as a client would end it (DELETE), so the link's next requests meet
HTTP 404 to its session id.  Many reads meeting it at once open one new session between them
(none closes the one another just opened); a call that is not read-only is not sent again.  And
when an answer's stream breaks and the link drops the connection, the remote's notifications
before it are still relayed (``connect_script``'s ``sse-unanswered``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx2
import pytest
from asgi_body import json_answer, json_object, read_body, replaying
from connect_script import Script
from link_pair import link_call, linked
from loopback import serve_in_thread
from mcp.server import MCPServer
from mcp.types import LoggingMessageNotification, ToolAnnotations

from vertex_stdio.bridge.edge import SessionEnded
from vertex_stdio.bridge.link import RemoteLink
from vertex_stdio.core.errors import UpstreamUnavailable

pytestmark = pytest.mark.anyio


class Remote:
    """The SDK's server behind a gate that refuses ``server/discover`` (a 2025 server) and counts
    ``initialize``s, the session ids calls carried and the calls each tool ran."""

    def __init__(self) -> None:
        server: MCPServer[Any] = MCPServer(name="forgetful")
        self.ran: Counter[str] = Counter()
        self.initializes = 0
        self.sessions: list[str] = []

        @server.tool(annotations=ToolAnnotations(read_only_hint=True))
        async def look(n: int) -> str:
            """Read-only."""
            self.ran[f"look {n}"] += 1
            return f"looked {n}"

        @server.tool(annotations=ToolAnnotations(read_only_hint=False))
        async def act(what: str) -> str:
            """Not read-only."""
            self.ran[f"act {what}"] += 1
            return f"did {what}"

        self._app = server.streamable_http_app(streamable_http_path="/mcp")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self._app(scope, receive, send)
        body = await read_body(receive)
        message = json_object(body)
        if message.get("method") == "server/discover":
            error = {"jsonrpc": "2.0", "id": message.get("id"), "error": {"code": -32601, "message": "no"}}
            return await json_answer(send, 200, error)
        if message.get("method") == "initialize":
            self.initializes += 1
        session = dict(scope["headers"]).get(b"mcp-session-id")
        if message.get("method") == "tools/call" and session:
            self.sessions.append(session.decode())
        return await self._app(scope, replaying(body, receive), send)


@contextmanager
def forgetful() -> Iterator[tuple[str, Remote]]:
    """A ``Remote`` served on loopback (in a thread): its MCP URL, and the app."""
    app = Remote()
    with serve_in_thread(app, lifespan="on") as base:
        yield f"{base}/mcp", app


@pytest.fixture
def remote() -> Iterator[tuple[str, Remote]]:
    with forgetful() as served:
        yield served


@pytest.fixture
async def link(remote: tuple[str, Remote]) -> AsyncIterator[RemoteLink]:
    async with linked(remote[0], timeout=10.0) as kept:  # closed as the proxy closes it
        yield kept


async def _look(link: RemoteLink, n: int) -> str:
    text: str = (await link_call(link, "look", {"n": n}))["content"][0]["text"]
    return text


@pytest.fixture
async def forgotten(remote: tuple[str, Remote], link: RemoteLink) -> Remote:
    """The remote once it ended the session the link's first call went on (as it ends one it
    expires: a DELETE of its id), so the link's next requests meet HTTP 404 to that id."""
    url, app = remote
    assert await _look(link, 0) == "looked 0"
    headers = {"mcp-session-id": app.sessions[-1], "mcp-protocol-version": "2025-11-25"}
    async with httpx2.AsyncClient() as client:
        assert (await client.delete(url, headers=headers)).status_code == 200
    return app


async def test_reads_that_meet_the_404_together_open_one_new_session(
    forgotten: Remote, link: RemoteLink
) -> None:
    app = forgotten
    answers: dict[int, str] = {}

    async def look(n: int) -> None:
        answers[n] = await _look(link, n)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(1, 9):
                tg.start_soon(look, n)
    assert answers == {n: f"looked {n}" for n in range(1, 9)}
    assert app.initializes == 2  # one new session for all eight: none closed another's
    assert len(set(app.sessions)) == 2
    assert all(app.ran[f"look {n}"] == 1 for n in range(1, 9))  # each ran once, on the new session


async def test_a_call_that_is_not_read_only_is_not_sent_again(forgotten: Remote, link: RemoteLink) -> None:
    app = forgotten
    with pytest.raises(SessionEnded) as ended:
        await link.request(
            "tools/call", {"name": "act", "arguments": {"what": "x"}}, interactive=False, retry=False
        )
    assert app.ran["act x"] == 0
    assert app.sessions.count(app.sessions[0]) == 2  # the look, then the act that met the 404
    envelope = ended.value.envelope()["error"]
    assert (envelope["code"], envelope["outcome"], envelope["retryable"]) == (
        "UPSTREAM_UNAVAILABLE",
        "refused",
        True,
    )
    result = await link.request(
        "tools/call", {"name": "act", "arguments": {"what": "y"}}, interactive=False, retry=False
    )
    assert result["content"][0]["text"] == "did y"
    assert app.initializes == 2


async def test_a_notification_sent_before_the_stream_broke_is_relayed_though_the_drop_follows() -> None:
    """The remote's notification mid-call, then its event stream ends unanswered: the link drops the
    connection (and sends the read-only call once more), and each notification still reaches the
    local client, however long relaying it takes (its stdout busy: here, 50 turns of the loop).
    The SDK relays it from its client's task group, which the drop cancels: it was lost before."""
    script = Script()
    relayed: list[Any] = []

    async def relay(message: Any) -> None:
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        relayed.append(message)

    with serve_in_thread(script) as base:
        async with linked(f"{base}/mcp", timeout=5.0, on_notification=relay) as link:
            with pytest.raises(UpstreamUnavailable):
                await link.request(
                    "tools/call", {"name": "look", "arguments": {"how": "sse-unanswered"}}, interactive=False
                )
    assert script.seen["look:sse-unanswered"] == 2
    assert [m.params.data for m in relayed if isinstance(m, LoggingMessageNotification)] == ["bye", "bye"]
