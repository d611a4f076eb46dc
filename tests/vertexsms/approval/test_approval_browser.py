"""The approval page in a real headless Chromium, the bridge in-process (its clock and opener injected).

The client declares no elicitation, so a send that needs a yes waits for the page.  Expiry runs
on the approvals' clock seam; the cookie binding, the CSRF token and single use are tested with
the browser's own requests against requests made without its cookie.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from chromium import Chromium, Tab, chromium_path
from mcp import Client

from bridge import envelope, ok, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.approval import Approvals
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.policy import parse
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.server import build_server

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)"),
]

SEND = {"to": "+37060000001", "from": "ACME", "message": "Dinner at eight?"}
EVERY_SEND = parse("confirm_above_eur = 0\n", Path("policy.toml"), {})
"""A policy that asks about every send (by default a second send of €0.039 to a number is not asked about)."""


class Clock:
    """The approvals' clock: real time plus whatever the test moves it on by."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.ahead = 0.0

    def __call__(self) -> float:
        return self._time() + self.ahead


class Links:
    """The opener seam: remembers each link the bridge opens, as the system browser would get it."""

    def __init__(self) -> None:
        self.opened: asyncio.Queue[str] = asyncio.Queue()

    async def __call__(self, url: str) -> bool:
        await self.opened.put(url)
        return True


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    with Chromium(tmp_path / "profile") as browser:
        yield browser


@asynccontextmanager
async def bridge(emulator: Emulator, path: Path, approvals: Approvals) -> AsyncIterator[Client]:
    settings = settings_for(emulator, confirm_sends=True)
    server = build_server(
        settings,
        StaticTokenProvider(SANDBOX_TOKEN),
        journal=journal_for(settings, path=path, policy=EVERY_SEND),
        approvals=approvals,
    )
    async with Client(server, mode="legacy") as client:
        yield client


async def while_waiting(client: Client, links: Links, person: Any) -> Any:
    """Call send_sms; when its link opens, let ``person(url)`` act in a thread; the call's result."""
    call = asyncio.ensure_future(client.call_tool("send_sms", SEND))
    url = await asyncio.wait_for(links.opened.get(), 30)
    await asyncio.to_thread(person, url)
    return await asyncio.wait_for(call, 60)


async def test_an_expired_approval_sends_nothing(
    emulator: Emulator, tmp_path: Path, chromium: Chromium
) -> None:
    """Approve clicked after the 10 minutes (the clock moved on): 410 "expired", no POST /sms, and the
    call answers CONFIRMATION_REQUIRED (recorded refused); the same call again gets a new link."""
    clock, links = Clock(), Links()
    approvals = Approvals(opener=links, clock=clock, wait=3.0)
    shown: dict[str, Any] = {}

    def late_person(url: str) -> None:
        tab = chromium.open(url)
        shown["form"] = tab.text()
        clock.ahead = 601.0
        tab.click("button[value=approve]")
        shown["after"], shown["status"] = tab.text(), tab.status()

    path = tmp_path / "j.sqlite3"
    async with bridge(emulator, path, approvals) as client:
        error = envelope(await while_waiting(client, links, late_person))
        again = envelope(await client.call_tool("send_sms", SEND))
    assert "+37060000001" in shown["form"]
    assert "Dinner at eight?" in shown["form"]
    assert (shown["status"], shown["after"].splitlines()[0]) == (410, "This approval has expired")
    assert (error["code"], error["outcome"], error["retryable"]) == (
        "CONFIRMATION_REQUIRED",
        "not_sent",
        False,
    )
    assert again["code"] == "CONFIRMATION_REQUIRED"
    assert again["approve_url"] != error["approve_url"]
    assert emulator.journal_for("POST", "/sms") == []
    assert [r.outcome for r in SqliteStore(path).records(0)] == ["refused", "refused"]


async def test_only_the_browser_that_opened_the_page_can_answer_and_only_once(
    emulator: Emulator, tmp_path: Path, chromium: Chromium
) -> None:
    """A bare GET carrying decision=approve, a POST with the right CSRF token but no cookie, and a GET
    of the link without the cookie are all refused; the browser's own Approve sends once; posting its
    form again (its cookie and token) finds the page closed, and the same call again needs a new
    approval: the first was used up by the one send."""
    links = Links()
    seen: dict[str, Any] = {}

    def person(url: str) -> None:
        tab = chromium.open(url)
        csrf = tab.run("document.querySelector('input[name=csrf]').value")
        with httpx2.Client(timeout=10) as stranger:
            seen["bare_get"] = stranger.get(url, params={"decision": "approve", "csrf": csrf}).status_code
            seen["no_cookie"] = stranger.post(url, data={"decision": "approve", "csrf": csrf}).status_code
        seen["pending_after_strangers"] = "Send this SMS?" in tab.text()
        tab.click("button[value=approve]")
        seen["approved"] = tab.text()
        seen.update(tab=tab, url=url, csrf=csrf)

    async with bridge(emulator, tmp_path / "j.sqlite3", Approvals(opener=links, wait=3.0)) as client:
        result = ok(await while_waiting(client, links, person))
        with pytest.raises(httpx2.ConnectError):
            await asyncio.to_thread(replay, seen["tab"], seen["url"], seen["csrf"])
        again = envelope(await client.call_tool("send_sms", SEND))
    assert (seen["bare_get"], seen["no_cookie"]) == (403, 403)
    assert seen["pending_after_strangers"]
    assert seen["approved"].startswith("Approved")
    assert again["code"] == "CONFIRMATION_REQUIRED"
    (cookie,) = seen["tab"].send("Network.getCookies", {"urls": [seen["url"]]})["cookies"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        urlsplit(seen["url"]).path,
    )
    assert result["status"] == "sent"
    assert len(emulator.journal_for("POST", "/sms")) == 1


def replay(tab: Tab, url: str, csrf: str) -> tuple[int, dict[str, Any]]:
    """The form posted again with the browser's own cookie and token: the status, and the cookie
    (raises ``httpx2.ConnectError`` when nothing listens there any more)."""
    (cookie,) = tab.send("Network.getCookies", {"urls": [url]})["cookies"]
    with httpx2.Client(timeout=10) as again:
        headers = {"Cookie": f"{cookie['name']}={cookie['value']}"}
        status = again.post(url, data={"decision": "approve", "csrf": csrf}, headers=headers).status_code
    return status, cookie
