"""Sign-in without a browser on this machine: `login --no-browser` with the address pasted back,
`login --device` (RFC 8628, also chosen by itself over SSH), and `login` that refuses a sign-in it
could not keep.  Each runs the real `vertex-stdio` process against the real authorization server.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from oauth_server.harness import AuthServer, auth_server, node_ready, protect, static_server
from oauth_server.helpers import make

from bridge import process_env, vertex
from vertex_stdio.app.signin import status

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]
pytest_plugins = ["oauth_server.fixtures"]

TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"
BROWSER = TESTS / "oauth_server" / "browser.py"


class Terminal:
    """A person's terminal on a machine with no keyring (file store opted in unless told not to)."""

    def __init__(self, tmp_path: Path, mcp_url: str) -> None:
        self.home = tmp_path / "home"
        self.harness = tmp_path / "harness"
        self.harness.mkdir()
        self.env = process_env(
            self.home,
            PYTHONPATH=os.pathsep.join([str(TESTS), str(TESTS.parents[1] / "src")]),
            VERTEXSMS_ALLOW_FILE_STORE="1",
            VERTEXSMS_MCP_URL=mcp_url,
            TEST_BROWSER_LOG=str(self.harness / "browser.log"),
            TEST_BROWSER_OPENS=str(self.harness / "opens.txt"),
            TEST_BROWSER_REDIRECT=str(self.harness / "redirect.txt"),
        )
        self.seen: list[str] = []

    async def start(self, *args: str, **env: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vertex_stdio",
            *args,
            env={**self.env, **env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def read_until(self, proc: asyncio.subprocess.Process, pattern: str) -> str:
        """Lines of stdout up to the one matching ``pattern`` (bounded wait)."""
        assert proc.stdout is not None
        text = ""
        while not re.search(pattern, text):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"stdout ended before {pattern!r}: {text}"
            text += line.decode()
        self.seen.append(text)
        return text

    async def finish(self, proc: asyncio.subprocess.Process) -> tuple[int, str]:
        out, err = await asyncio.wait_for(proc.communicate(), 40)
        self.seen += [out.decode(), err.decode()]
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    def browse(self, url: str, mode: str) -> None:
        """The person's browser (on "another machine"): the scripted browser in ``mode``."""
        done = subprocess.run(
            [sys.executable, str(BROWSER), url],
            env={**os.environ, **self.env, "TEST_BROWSER_MODE": mode},
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def redirect(self) -> str:
        return (self.harness / "redirect.txt").read_text().splitlines()[-1]

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.home / "logs").rglob("*") if p.is_file())

    def status(self) -> tuple[int, str]:
        done = vertex(self.env, "status", timeout=30)
        return done.returncode, done.stdout


@pytest.fixture
def mcp_url(as_server: AuthServer) -> Iterator[str]:
    with static_server() as resource:
        yield protect(resource, as_server.issuer)


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


async def _paste(proc: asyncio.subprocess.Process, text: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(text.encode() + b"\n")
    await proc.stdin.drain()


@pytest.mark.anyio
async def test_no_browser_login_finishes_with_the_address_pasted_back(
    as_server: AuthServer, mcp_url: str, tmp_path: Path
) -> None:
    """The link is printed once; a bare code (the AS sends iss) and a forged state are refused, the real address signs in."""
    term = Terminal(tmp_path, mcp_url)
    del term.env["VERTEXSMS_ALLOW_FILE_STORE"]  # chosen on the command line instead
    grants = len(as_server.journal("grant", grant_type="authorization_code"))
    proc = await term.start("login", "--no-browser", "--allow-file-store")
    shown = await term.read_until(proc, r"press Enter")
    links = re.findall(r"^  (http\S+)$", shown, re.M)
    assert len(links) == 1
    assert links[0].startswith(as_server.issuer)
    await asyncio.to_thread(term.browse, links[0], "remote")
    address = term.redirect()
    assert "code=" in address
    assert "iss=" in address
    await _paste(proc, parse_qs(urlsplit(address).query)["code"][0])
    assert "paste the whole address" in await term.read_until(proc, r"again")
    await _paste(proc, _with(address, state="forged"))
    assert "another sign-in" in await term.read_until(proc, r"again")
    await _paste(proc, "  " + address + "  ")
    code, out = await term.finish(proc)
    assert code == 0, out
    state = parse_qs(urlsplit(address).query)["state"][0]
    assert state not in term.seen[-1]  # stderr: the link is on the terminal's stdout only
    assert state not in term.logs()
    assert "Signed in to VertexSMS" in out
    assert "file (" in out
    assert len(as_server.journal("grant", grant_type="authorization_code")) == grants + 1
    assert term.status()[0] == 1  # the server process needs the opt-in too, or it finds nothing
    term.env["VERTEXSMS_ALLOW_FILE_STORE"] = "1"
    status_code, report = term.status()
    assert status_code == 0
    assert "Signed in: yes" in report


@pytest.mark.anyio
async def test_pasted_address_from_another_server_is_refused_by_the_iss_check(
    as_server: AuthServer, mcp_url: str, tmp_path: Path
) -> None:
    """A pasted answer with the wrong iss ends the sign-in as the receiver would: nothing redeemed, exit 1."""
    term = Terminal(tmp_path, mcp_url)
    grants = len(as_server.journal("grant", grant_type="authorization_code"))
    proc = await term.start("login", "--no-browser")
    shown = await term.read_until(proc, r"press Enter")
    await asyncio.to_thread(term.browse, re.findall(r"^  (http\S+)$", shown, re.M)[0], "remote")
    await _paste(proc, _with(term.redirect(), iss="http://127.0.0.1:1/evil"))
    code, out = await term.finish(proc)
    assert code == 1
    assert "refused for your safety" in out
    assert "iss" in out
    assert len(as_server.journal("grant", grant_type="authorization_code")) == grants


@pytest.mark.anyio
async def test_bare_code_is_enough_when_the_server_does_not_send_iss(
    as_server: AuthServer, tmp_path: Path
) -> None:
    """An AS that never names itself (no RFC 9207): the bare code, pasted alone, signs in."""
    with static_server() as fake_as, static_server() as resource:
        real = as_server.metadata()
        body = {**real, "issuer": fake_as.url}
        body.pop("authorization_response_iss_parameter_supported", None)
        fake_as.json("/.well-known/oauth-authorization-server", body)
        term = Terminal(tmp_path, protect(resource, fake_as.url))
        proc = await term.start("login", "--no-browser")
        shown = await term.read_until(proc, r"press Enter")
        await asyncio.to_thread(term.browse, re.findall(r"^  (http\S+)$", shown, re.M)[0], "remote")
        await _paste(proc, parse_qs(urlsplit(term.redirect()).query)["code"][0])
        code, out = await term.finish(proc)
    assert code == 0, out
    assert "Signed in to VertexSMS" in out


def _device_prompt(shown: str) -> tuple[str, str, str]:
    page = re.search(r"^  (http\S+)$", shown, re.M)
    user_code = re.search(r"enter the code:\s+(\S+)", shown)
    complete = re.search(r"\(Or open (\S+) ,", shown)
    assert page, shown
    assert user_code, shown
    assert complete, shown
    return page.group(1), user_code.group(1), complete.group(1)


@pytest.mark.anyio
async def test_device_login_over_ssh_is_chosen_by_itself_and_never_shows_the_device_code(
    as_server: AuthServer, mcp_url: str, tmp_path: Path
) -> None:
    """Plain `login` in an SSH session uses the device grant: code shown, approved elsewhere, resource sent."""
    term = Terminal(tmp_path, mcp_url)
    proc = await term.start("login", SSH_CONNECTION="10.0.0.2 50000 10.0.0.1 22", DISPLAY="")
    shown = await term.read_until(proc, r"Waiting for you to approve")
    page, user_code, complete = _device_prompt(shown)
    assert "SSH session" in shown
    assert page == f"{as_server.issuer}/device"
    assert user_code in complete
    assert f"(The page is on {urlsplit(as_server.issuer).hostname}, the sign-in server's own host.)" in shown
    await asyncio.to_thread(term.browse, complete, "device")
    code, out = await term.finish(proc)
    assert code == 0, out
    assert "Signed in to VertexSMS" in out
    grants = as_server.journal("grant", grant_type="urn:ietf:params:oauth:grant-type:device_code")
    assert grants
    assert grants[-1]["resource"] == mcp_url
    assert "Opening your browser" not in shown
    secrets = {s for row in as_server.journal() for s in row.get("secrets", [])}
    everything = "".join(term.seen) + term.logs()
    assert secrets
    assert not any(secret in everything for secret in secrets)
    assert term.status()[0] == 0


@pytest.mark.anyio
async def test_device_login_declined_in_the_browser_says_so_and_exits_1(
    as_server: AuthServer, mcp_url: str, tmp_path: Path
) -> None:
    """`login --device` declined at the consent page: polling stops with access_denied, nothing kept."""
    term = Terminal(tmp_path, mcp_url)
    proc = await term.start("login", "--device")
    _, _, complete = _device_prompt(await term.read_until(proc, r"Waiting for you to approve"))
    await asyncio.to_thread(term.browse, complete, "device-decline")
    code, out = await term.finish(proc)
    assert code == 1
    assert "declined" in out
    assert term.status()[0] == 1


@pytest.mark.anyio
async def test_login_without_a_keyring_explains_the_file_store_before_any_browser(
    as_server: AuthServer, mcp_url: str, tmp_path: Path
) -> None:
    """No keyring and no opt-in: exit 1 naming both settings; no tab, no registration, status signed out."""
    term = Terminal(tmp_path, mcp_url)
    del term.env["VERTEXSMS_ALLOW_FILE_STORE"]
    registrations = len(as_server.journal("registration"))
    proc = await term.start("login", BROWSER=f"{sys.executable} {BROWSER} %s")
    code, out = await term.finish(proc)
    assert code == 1
    assert "VERTEXSMS_ALLOW_FILE_STORE=1" in out
    assert "--allow-file-store" in out
    assert "Signed in" not in out
    assert not (term.harness / "opens.txt").exists()
    assert len(as_server.journal("registration")) == registrations
    assert term.status()[0] == 1


@pytest.mark.anyio
async def test_status_names_the_account_of_a_jwt_and_gives_local_times(tmp_path: Path, browser: Path) -> None:
    """An AS issuing JWT access tokens: status names its `sub`, shows expiry in local time and time left."""
    with auth_server(tmp_path, AS_AT_FORMAT="jwt") as jwt_as, static_server() as resource:
        provider = make(protect(resource, jwt_as.issuer), tmp_path)
        try:
            token = await provider.token(["sms:send"])
        finally:
            await provider.aclose()
        as_json, as_text = io.StringIO(), io.StringIO()
        assert await status(provider.profile, as_json=True, out=as_json, store=provider.store) == 0
        assert await status(provider.profile, as_json=False, out=as_text, store=provider.store) == 0
    session = json.loads(as_json.getvalue())["sessions"][0]
    assert (session["account"], session["account_claim"]) == ("user-1", "sub")
    assert isinstance(session["access_token_expires_at"], float)
    assert datetime.fromisoformat(session["access_token_expires_at_iso"]).timestamp() == pytest.approx(
        session["access_token_expires_at"], abs=1
    )
    assert 500 < session["access_token_expires_in"] <= 600
    assert "Account: user-1 (the token's sub)" in as_text.getvalue()
    assert re.search(
        r"Access token: expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\(in (9|10) min\)", as_text.getvalue()
    )
    assert "Unix time" not in as_text.getvalue()
    assert token not in as_json.getvalue() + as_text.getvalue()
