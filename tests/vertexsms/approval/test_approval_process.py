"""Approval in the browser through the real ``vertex-stdio`` process over stdio, against the emulator.

The client declares no elicitation.  The system browser is ``BROWSER``: a script that hands the
link to the test, which opens it in a real headless Chromium, as the person's browser would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chromium import Chromium, chromium_path
from mcp import Client, StdioServerParameters

from bridge import emulator_env, envelope, ok
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)"),
]

SEND = {"to": "+370 600 00001", "from": "ACME", "message": "Dinner at\u200b eight?\u00a0OK"}
SYSTEM_PYTHON = "/usr/bin/python3"


def _env(tmp_path: Path, emulator: Emulator, browser_works: bool) -> dict[str, str]:
    script = tmp_path / "browser.sh"
    links = tmp_path / "links.txt"
    script.write_text(
        f'#!/bin/sh\necho "$1" >> {links}\nexit {0 if browser_works else 1}\n', encoding="utf-8"
    )
    script.chmod(0o755)
    policy = tmp_path / "policy.toml"
    policy.write_text("confirm_above_eur = 0\n", encoding="utf-8")  # every send is asked about
    return emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_CONFIRM_SENDS="1",
        BROWSER=str(script),
        VERTEXSMS_POLICY=str(policy),
        VERTEXSMS_DUPLICATE_WINDOW="0",  # a repeated call meets the approval's single use, not the guard
    )


async def _link(tmp_path: Path, count: int = 1) -> str:
    """The ``count``-th link the bridge handed to the system browser (bounded wait)."""
    links = tmp_path / "links.txt"
    for _ in range(600):
        lines = links.read_text(encoding="utf-8").split() if links.exists() else []
        if len(lines) >= count:
            return lines[count - 1]
        await asyncio.sleep(0.05)
    raise AssertionError("the bridge opened no approval link")


def _records(tmp_path: Path) -> list[Any]:
    return SqliteStore(tmp_path / "state" / "vertex-stdio" / "journal.sqlite3").records(0)


async def _decide(tmp_path: Path, browser: Chromium, button: str, seen: dict[str, Any]) -> None:
    url = await _link(tmp_path)
    seen["other_account"] = await asyncio.to_thread(other_account_status, url)
    tab = await asyncio.to_thread(browser.open, url)
    seen["page"] = await asyncio.to_thread(tab.text)
    await asyncio.to_thread(tab.click, f"button[value={button}]")
    seen["after"] = await asyncio.to_thread(tab.text)


@pytest.mark.parametrize(("button", "sends"), [("approve", 1), ("decline", 0)])
async def test_the_person_decides_in_the_browser(
    emulator: Emulator, tmp_path: Path, button: str, sends: int
) -> None:
    """The call opens the page and waits (with progress); the page shows the send whole (recipient in
    E.164, sender, text with invisible characters made visible, parts, price, today's totals);
    another local account opening the link first is refused; Approve sends once, Decline answers
    DECLINED and sends nothing."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio"], env=_env(tmp_path, emulator, True)
    )
    seen: dict[str, Any] = {}
    with Chromium(tmp_path / "profile") as browser:
        async with Client(params, mode="legacy") as client:
            deciding = asyncio.ensure_future(_decide(tmp_path, browser, button, seen))
            result = await client.call_tool("send_sms", SEND)
            await asyncio.wait_for(deciding, 60)
    for shown in ("+37060000001", "ACME", "Dinner at eight?⟨U+00A0⟩OK", "€0.0390", "0 message(s)"):
        assert shown in seen["page"], (shown, seen["page"])
    if seen["other_account"] is not None:
        assert seen["other_account"] == 403
    assert len(emulator.journal_for("POST", "/sms")) == sends
    if button == "approve":
        assert ok(result)["status"] == "sent"
        assert seen["after"].startswith("Approved")
    else:
        error = envelope(result)
        assert (error["code"], error["outcome"], error["retryable"]) == ("DECLINED", "not_sent", False)
        assert seen["after"].startswith("Declined")


async def test_without_a_browser_the_link_comes_back_and_the_same_call_then_sends_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    """No browser opens: CONFIRMATION_REQUIRED at once with approve_url and expires_at (not_sent, not
    retryable, the link in the message, recorded refused); the person approves at that link; the
    same call then sends once, and once more needs a new approval."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio"], env=_env(tmp_path, emulator, False)
    )
    with Chromium(tmp_path / "profile") as browser:
        async with Client(params, mode="legacy") as client:
            first = envelope(await client.call_tool("send_sms", SEND))
            tab = await asyncio.to_thread(browser.open, first["approve_url"])
            await asyncio.to_thread(tab.click, "button[value=approve]")
            sent = ok(await client.call_tool("send_sms", SEND))
            third = envelope(await client.call_tool("send_sms", SEND))
    assert (first["code"], first["outcome"], first["retryable"]) == (
        "CONFIRMATION_REQUIRED",
        "not_sent",
        False,
    )
    assert first["approve_url"].startswith("http://127.0.0.1:")
    assert "/approve/" in first["approve_url"]
    assert first["approve_url"] in first["message"]
    assert first["expires_at"]
    assert sent["status"] == "sent"
    assert third["code"] == "CONFIRMATION_REQUIRED"
    assert third["approve_url"] != first["approve_url"]
    assert len(emulator.journal_for("POST", "/sms")) == 1
    assert sorted(r.outcome for r in _records(tmp_path)) == ["refused", "refused", "sent"]


def other_account_status(url: str) -> int | None:
    """The HTTP status the OS user ``nobody`` gets for ``url``; None where that cannot be run (not root)."""
    runuser = shutil.which("runuser")
    if os.name != "posix" or os.geteuid() != 0 or runuser is None or not Path(SYSTEM_PYTHON).exists():
        return None
    probe = (
        "import sys, urllib.request, urllib.error\n"
        "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"
    )
    done = subprocess.run(
        [runuser, "-u", "nobody", "--", SYSTEM_PYTHON, "-c", probe, url],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return int(done.stdout.decode().strip() or 0)
