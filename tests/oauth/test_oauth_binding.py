"""Issue 10: the redirect is bound to the browser that started the sign-in.

Against node-oidc-provider and the real receiver.  The attacker is ``oauth_server/attacker.py``,
run as the OS user ``nobody`` (``runuser``) when this machine allows it, else as a separate
process of this user; either way it has no cookie of the victim's browser.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from oauth_server.browser import through_consent
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect
from oauth_server.helpers import figure, make, page_seen

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth import OAuthTokenProvider

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

ATTACKER = Path(__file__).resolve().parents[2] / "tests" / "support" / "oauth_server" / "attacker.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def other_user_command() -> tuple[list[str], str]:
    """How to run the attacker: as ``nobody`` when we are root with runuser, else as ourselves."""
    runuser = shutil.which("runuser")
    if os.name == "posix" and os.geteuid() == 0 and runuser and Path(SYSTEM_PYTHON).exists():
        probe = subprocess.run(
            [runuser, "-u", "nobody", "--", SYSTEM_PYTHON, "-c", f"open({str(ATTACKER)!r}).close()"],
            capture_output=True,
            timeout=20,
            check=False,
        )
        if probe.returncode == 0:
            return [runuser, "-u", "nobody", "--", SYSTEM_PYTHON, str(ATTACKER)], "OS user nobody"
    return [sys.executable, str(ATTACKER)], "a separate process of the same user"


def attack(url: str, *args: str) -> tuple[str, str, str]:
    """Run the attacker on the leaked URL: (the status it got, the code it delivered, who it ran as)."""
    command, who = other_user_command()
    done = subprocess.run(
        [*command, *args], input=f"{url}\n".encode(), capture_output=True, timeout=40, check=False
    )
    status, _, code = done.stdout.decode().strip().partition(" ")
    assert status, done.stderr.decode()[-500:]
    return status, code, who


VICTIM_DONE = threading.Event()
"""Set when the victim's browser has seen its callback page (the sign-in may finish a moment before)."""


def victim_and_attacker(start_url: str, report: dict[str, str]) -> bool:
    """The victim's browser opens the start URL; the leaked authorization URL is replayed first."""
    with httpx2.Client(timeout=10, follow_redirects=False) as victim:
        started = victim.get(start_url)
        assert started.status_code == 302
        cookie = started.headers["set-cookie"]
        report["cookie"] = cookie
        status, code, who = attack(started.headers["location"])
        report.update(attacker_status=status, attacker_code=code, attacker_ran_as=who)
        callback = through_consent(victim, started)
        assert callback is not None
        report["victim_code"] = parse_qs(urlsplit(callback).query)["code"][0]
        report["victim_status"] = str(victim.get(callback).status_code)
    VICTIM_DONE.set()
    return True


def binding_provider(mcp_url: str, tmp_path: Path, report: dict[str, str]) -> OAuthTokenProvider:
    async def opener(url: str) -> bool:
        report["opened"] = url
        return await asyncio.to_thread(victim_and_attacker, url, report)

    provider = make(mcp_url, tmp_path)
    provider._opener = opener
    return provider


@pytest.mark.anyio
async def test_other_account_replaying_the_authorization_url_cannot_sign_you_in(
    as_server: AuthServer, resource: StaticServer, tmp_path: Path
) -> None:
    """An attacker with the authorization URL but not the cookie delivers its code first: refused."""
    report: dict[str, str] = {}
    VICTIM_DONE.clear()
    provider = binding_provider(protect(resource, as_server.issuer), tmp_path, report)
    try:
        token = await provider.token(["sms:send"])
        assert await asyncio.to_thread(VICTIM_DONE.wait, 20)
    finally:
        await provider.aclose()
    figure(f"attacker ran as {report['attacker_ran_as']}: callback answered {report['attacker_status']}")
    assert report["attacker_status"] == "400"  # "belongs to another browser": it has no cookie
    assert report["victim_status"] == "200"
    assert urlsplit(report["opened"]).path.startswith("/start/")
    assert "HttpOnly" in report["cookie"]
    assert "SameSite=Lax" in report["cookie"]
    assert "Path=/callback" in report["cookie"]
    client_id = as_server.introspect(token)["client_id"]
    exchanges = as_server.journal("grant", grant_type="authorization_code", client_id=client_id)
    assert len(exchanges) == 1
    assert report["victim_code"] in exchanges[0]["secrets"]
    assert report["attacker_code"] not in exchanges[0]["secrets"]


@pytest.mark.anyio
@pytest.mark.skipif("nobody" not in other_user_command()[1], reason="needs a second OS account")
async def test_another_account_opening_the_start_url_first_is_refused(
    as_server: AuthServer, resource: StaticServer, tmp_path: Path
) -> None:
    """Another account that read the start URL (e.g. from the browser's argv) and opens it first: 403,
    and the person's own browser then signs in normally."""
    report: dict[str, str] = {}

    def first_the_other_account(start_url: str) -> bool:
        report["other"] = attack(start_url, "start")[0]
        return victim_and_attacker(start_url, report)

    async def opener(url: str) -> bool:
        return await asyncio.to_thread(first_the_other_account, url)

    VICTIM_DONE.clear()
    provider = make(protect(resource, as_server.issuer), tmp_path)
    provider._opener = opener
    try:
        assert await provider.token(["sms:send"])
        assert await asyncio.to_thread(VICTIM_DONE.wait, 20)
    finally:
        await provider.aclose()
    assert report["other"] == "403"
    assert report["victim_status"] == "200"


@pytest.mark.anyio
async def test_shown_url_is_the_start_url_never_state_or_challenge(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """AUTH_REQUIRED, the log and the opened URL carry the one-time start URL only."""
    monkeypatch.setenv("TEST_BROWSER_MODE", "ignore")
    opened: list[str] = []

    async def opener(url: str) -> bool:
        opened.append(url)
        return True

    provider = make(protect(resource, as_server.issuer), tmp_path, signin_timeout=1.0)
    provider._opener = opener
    try:
        with pytest.raises(AuthRequired) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    shown = [caught.value.to_json(), caplog.text, *opened]
    assert str(caught.value.extra["authorization_url"]) == opened[0]
    assert urlsplit(opened[0]).path.startswith("/start/")
    for text in shown:
        assert "state=" not in text
        assert "code_challenge" not in text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "why"), [("open-twice", "opened twice"), ("no-cookie", "not completed in time")]
)
async def test_reused_start_url_or_missing_cookie_fails_closed(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    why: str,
) -> None:
    """A second fetch of the start URL cancels the sign-in; a callback without the cookie is ignored."""
    monkeypatch.setenv("TEST_BROWSER_MODE", mode)
    exchanges = len(as_server.journal("grant", grant_type="authorization_code"))
    provider = make(protect(resource, as_server.issuer), tmp_path, signin_timeout=4.0)
    try:
        with pytest.raises(AuthRequired, match=why):
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    seen = page_seen(browser)
    if mode == "open-twice":
        assert "second start: 400" in seen
    else:
        assert seen.startswith("400 ")
        assert "another browser" in seen
    assert len(as_server.journal("grant", grant_type="authorization_code")) == exchanges


@pytest.mark.anyio
async def test_browser_child_gets_the_url_on_stdin_and_no_secret_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child Python's argv (readable by every local user) holds no URL; its environment no token."""
    from vertex_stdio.oauth.io.browser import open_in_browser

    record = tmp_path / "record"
    script = tmp_path / "browser.sh"
    script.write_text(
        f'#!/bin/sh\ntr "\\0" " " < /proc/$PPID/cmdline > "{record}.parent"\n'
        f'env > "{record}.env"\necho "$1" > "{record}.url"\n'
    )
    script.chmod(0o700)
    monkeypatch.setenv("BROWSER", f"{script} %s")
    monkeypatch.setenv("VERTEXSMS_API_TOKEN", "VTX-CANARY-never-in-the-child")
    monkeypatch.setenv("SOME_CLIENT_SECRET", "secret-CANARY-never-in-the-child")
    url = "http://127.0.0.1:9/start/NONCE-CANARY-0001"
    assert await open_in_browser(url)
    assert Path(f"{record}.url").read_text().strip() == url
    parent = Path(f"{record}.parent").read_text()
    assert "webbrowser" in parent
    assert "NONCE-CANARY" not in parent
    env = Path(f"{record}.env").read_text()
    assert "CANARY" not in env
    assert f"BROWSER={script}" in env


def test_peer_owner_is_read_from_the_tcp_table(tmp_path: Path) -> None:
    """The client end of a loopback connection names its owner; unknown connections give None."""
    from vertex_stdio.oauth.io.peer import peer_uid

    local_hex = "0100007F" if sys.byteorder == "little" else "7F000001"
    table = tmp_path / "tcp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        f"   0: {local_hex}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 1 1\n"
        f"   1: {local_hex}:C350 {local_hex}:1F90 01 00000000:00000000 00:00000000 00000000 65534 0 2 1\n"
    )
    assert peer_uid(("127.0.0.1", 0xC350), ("127.0.0.1", 0x1F90), table) == 65534
    assert peer_uid(("127.0.0.1", 1), ("127.0.0.1", 0x1F90), table) is None
    assert peer_uid(("127.0.0.1", 1), ("127.0.0.1", 2), tmp_path / "missing") is None
