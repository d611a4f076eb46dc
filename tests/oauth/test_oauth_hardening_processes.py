"""Hardening, OAuth part 2: several real processes sharing one store, and secret hygiene of a whole session.

The processes are the product's own (``python -m vertex_stdio`` over stdio, ``login``, ``logout``,
``status``, ``doctor``) or ``oauth_server/child.py`` (one provider asking for one token), sharing
the opt-in 0600 file store of a machine with no keyring.  Figures print with ``-s``.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mcp import Client, StdioServerParameters
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect
from oauth_server.helpers import figure

from bridge import envelope, ok
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.state import FileLock
from vertex_stdio.vertexsms.sandbox import Emulator

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"
CHILD = TESTS / "oauth_server" / "child.py"


@pytest.fixture
def protected(as_server: AuthServer) -> Iterator[Emulator]:
    """The emulator accepting only live tokens of the test AS (introspection: revocation shows)."""
    with Emulator(tokens={}, authorization_servers=[as_server.issuer]) as emu:
        emu.token_check = as_server.token_check
        yield emu


class Machine:
    """One user's machine: a home with no keyring (file store opted in), a browser, product processes."""

    def __init__(self, tmp_path: Path, mcp_url: str, api_url: str | None = None) -> None:
        self.home = tmp_path / "home"
        self.harness = tmp_path / "harness"  # test-only records (they hold codes): never scanned
        self.harness.mkdir()
        self.state_dir = self.home / "state" / "vertex-stdio"
        self.outputs: list[str] = []
        self.env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parents[1] / "src")]),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "VERTEXSMS_ALLOW_FILE_STORE": "1",
            "XDG_STATE_HOME": str(self.home / "state"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "VERTEXSMS_LOG_DIR": str(self.home / "logs"),
            "VERTEXSMS_MCP_URL": mcp_url,
            "VERTEXSMS_SIGNIN_TIMEOUT": "30",
            "BROWSER": os.environ["BROWSER"],
            "TEST_BROWSER_LOG": str(self.harness / "browser.log"),
            "TEST_BROWSER_OPENS": str(self.harness / "opens.txt"),
            "TEST_BROWSER_URLS": str(self.harness / "callbacks.txt"),
            "TEST_BROWSER_MODE": "consent",
            "CHILD_STATE_DIR": str(self.state_dir),
            "CHILD_MCP_URL": mcp_url,
            "CHILD_DEFAULT_STORE": "1",
            "CHILD_OPEN_BROWSER": "1",
            "CHILD_SIGNIN_TIMEOUT": "30",
        }
        if api_url:
            self.env["VERTEXSMS_API_URL"] = api_url

    def opens(self) -> int:
        path = self.harness / "opens.txt"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def start(self, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, *args],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def finish(self, proc: subprocess.Popen[bytes], timeout: float = 40) -> tuple[int, str, str]:
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.outputs += [out.decode(errors="replace"), err.decode(errors="replace")]
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def run(self, *args: str, **env: str) -> tuple[int, str, str]:
        return self.finish(self.start(["-m", "vertex_stdio", *args], **env))

    def child(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start([str(CHILD)], **env)

    @asynccontextmanager
    async def server(self, **env: str) -> AsyncIterator[Client]:
        """``python -m vertex_stdio`` over stdio; its stderr goes to a file under the home."""
        errlog = self.home / "server-stderr.txt"
        self.home.mkdir(parents=True, exist_ok=True)
        command = f'exec "{sys.executable}" -m vertex_stdio 2>>"{errlog}"'
        params = StdioServerParameters(command="sh", args=["-c", command], env={**self.env, **env})
        async with Client(params, mode="legacy") as client:
            yield client


def kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def client_of(machine: Machine) -> str:
    clients = json.loads((machine.state_dir / "auth.json").read_text())["clients"]
    return str(next(iter(clients.values()))["client_id"])


@pytest.mark.anyio
async def test_four_servers_and_login_signing_in_at_once_open_one_browser(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """4 server processes and `login` need a sign-in at the same instant: one browser tab, all get the token."""
    machine = Machine(tmp_path, protect(resource, as_server.issuer))
    start_at = str(time.time() + 1.5)
    procs = [machine.child(CHILD_START_AT=start_at) for _ in range(4)]
    try:
        time.sleep(1.0)  # the CLI starts a little slower than a child: let them meet
        login = machine.start(["-m", "vertex_stdio", "login"])
        procs.append(login)
        finished = [machine.finish(p) for p in procs[:4]]
        code, out, _ = machine.finish(login)
    finally:
        kill(procs)
    results = [f[1].strip() for f in finished]
    assert all(r.startswith("OK ") for r in results), finished
    assert len(set(results)) == 1
    assert code == 0, out
    assert "Signed in to VertexSMS" in out
    assert machine.opens() == 1
    client_id = client_of(machine)
    assert len(as_server.journal("registration", client_id=client_id)) == 1
    assert len(as_server.journal("grant", grant_type="authorization_code", client_id=client_id)) == 1


@pytest.mark.anyio
async def test_logout_while_four_servers_serve_gives_auth_required_then_login_restores(
    as_server: AuthServer, protected: Emulator, browser: Path, tmp_path: Path
) -> None:
    """`logout` revokes; each of 4 serving processes answers AUTH_REQUIRED at once (no tab), and works after `login`."""
    machine = Machine(tmp_path, protected.mcp_url, protected.api_url)
    assert machine.run("login")[0] == 0
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(machine.server(TEST_BROWSER_MODE="ignore")) for _ in range(4)
        ]
        for server in servers:
            assert ok(await server.call_tool("get_operator", {"operatorId": 1101}))["name"]
        opens = machine.opens()
        code, out, _ = machine.run("logout")
        assert code == 0, out
        start = time.monotonic()
        answers = [envelope(await s.call_tool("get_operator", {"operatorId": 1101})) for s in servers]
        took = time.monotonic() - start
        again = [envelope(await s.call_tool("get_operator", {"operatorId": 1101})) for s in servers]
        assert machine.opens() == opens  # no browser tab after an explicit sign-out
        assert machine.run("login")[0] == 0
        back = [ok(await s.call_tool("get_operator", {"operatorId": 1101})) for s in servers]
    figure(f"logout: 4 servers answered AUTH_REQUIRED in {took:.2f} s in all")
    for answer in answers + again:
        assert answer["code"] == "AUTH_REQUIRED", answer
        assert "vertex-stdio login" in answer["message"]
    assert "signed out" in answers[0]["message"].lower()
    assert all(b["name"] for b in back)
    assert took < 10.0
    hints = [r["token_type_hint"] for r in as_server.journal("revocation")][-2:]
    assert hints == ["refresh_token", "access_token"]
    assert "Traceback" not in (machine.home / "server-stderr.txt").read_text()


@pytest.mark.anyio
async def test_corrupt_state_file_is_recovered_with_a_warning(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """A truncated, wrongly shaped or binary auth.json: the next process warns, signs in again, no crash."""
    machine = Machine(tmp_path, protect(resource, as_server.issuer))
    code, out, err = machine.finish(machine.child())
    assert out.startswith("OK "), err
    state = machine.state_dir / "auth.json"
    damage = {
        "truncated": state.read_bytes()[: len(state.read_bytes()) // 2],
        "shapes": json.dumps(
            {"version": 1, "sessions": [], "clients": {"x": "y"}, "metadata": {"u": 5}}
        ).encode(),
        "cache": json.dumps(
            {
                "version": 1,
                "metadata": {
                    machine.env["CHILD_MCP_URL"]: {
                        "fetched_at": "soon",
                        "server": {"issuer": 1},
                        "resource": 2,
                    }
                },
            }
        ).encode(),
        "binary": b"\x00\xff\xfe garbage \x80",
    }
    for name, content in damage.items():
        state.write_bytes(content)
        code, out, err = machine.finish(machine.child())
        assert out.startswith("OK "), (name, err)
        assert "Traceback" not in err, name
        assert "damaged" in err or "unknown layout" in err, (name, err)
        assert json.loads(state.read_text())["sessions"], name
    code, out, err = machine.run("status", "--json")
    assert code == 0, err
    assert json.loads(out)["signed_in"] is True


def _lock_held(path: Path) -> bool:
    probe = FileLock(path, 0)
    if probe.try_acquire():
        probe.release()
        return False
    return True


def _wait_for_lock(state_dir: Path, kind: str, within: float = 20) -> Path:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for path in state_dir.glob(f"{kind}-*.lock"):
            if _lock_held(path):
                return path
        time.sleep(0.05)
    raise AssertionError(f"no {kind} lock was taken")


@pytest.mark.anyio
async def test_locks_of_a_killed_process_block_no_one(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """SIGKILL a process holding the sign-in lock, then one holding the refresh lock: the next process is not held up."""
    machine = Machine(tmp_path, protect(resource, as_server.issuer))
    holder = machine.child(TEST_BROWSER_MODE="ignore", CHILD_SIGNIN_TIMEOUT="120")
    procs = [holder]
    try:
        lock = _wait_for_lock(machine.state_dir, "signin")
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        killed = time.monotonic()
        _, out, err = machine.finish(machine.child())
        signin_after_kill = time.monotonic() - killed
        assert out.startswith("OK "), err
        refresh_lock = lock.with_name(lock.name.replace("signin-", "refresh-"))
        script = (
            "import sys, time; from pathlib import Path; from vertex_stdio.oauth.storage.state import FileLock; "
            "lock = FileLock(Path(sys.argv[1]), 1); assert lock.try_acquire(); print('HELD', flush=True); "
            "time.sleep(120)"
        )
        hung = machine.start(["-c", script, str(refresh_lock)])
        procs.append(hung)
        assert hung.stdout is not None
        assert hung.stdout.readline().strip() == b"HELD"
        hung.send_signal(signal.SIGKILL)
        hung.wait(5)
        killed = time.monotonic()
        _, refreshed, err = machine.finish(machine.child(CHILD_CLOCK_OFFSET="3600"))
        refresh_after_kill = time.monotonic() - killed
    finally:
        kill(procs)
    figure(f"killed sign-in lock holder: next sign-in done {signin_after_kill:.2f} s after the kill")
    figure(f"killed refresh lock holder: next refresh done {refresh_after_kill:.2f} s after the kill")
    assert refreshed.startswith("OK "), err
    assert refreshed != out
    assert machine.opens() in (1, 2)  # the holder may die before its browser starts
    assert signin_after_kill < 10.0
    assert refresh_after_kill < 5.0
    assert len(as_server.journal("grant", grant_type="refresh_token", client_id=client_of(machine))) == 1


def _secrets_seen(as_server: AuthServer, machine: Machine, client_id: str) -> set[str]:
    """Every code, PKCE verifier, access and refresh token of this client, from the AS and the browser."""
    found: set[str] = set()
    for row in as_server.journal("grant", client_id=client_id) + as_server.journal(
        "grant_error", client_id=client_id
    ):
        found.update(row.get("secrets", []))
    for url in (machine.harness / "callbacks.txt").read_text().splitlines():
        found.update(parse_qs(urlsplit(url).query).get("code", []))
    return found


def _scan(texts: dict[str, str], secrets: set[str]) -> list[str]:
    leaks = []
    for where, text in texts.items():
        for secret in secrets:
            pieces = {secret, secret[:16], secret[-16:]}
            if any(p in text for p in pieces):
                leaks.append(f"{where}: {secret[:4]}…")
    return leaks


@pytest.mark.anyio
async def test_whole_signed_in_session_never_shows_a_secret(
    as_server: AuthServer, protected: Emulator, browser: Path, tmp_path: Path
) -> None:
    """login, status, doctor, a DEBUG server session with refreshes and failures, logout: no secret anywhere."""
    machine = Machine(tmp_path, protected.mcp_url, protected.api_url)
    results: list[str] = []
    assert machine.run("login")[0] == 0
    client_id = client_of(machine)
    for args in (["status"], ["status", "--json"], ["doctor"], ["doctor", "--json"]):
        machine.run(*args)

    def current_access() -> str:
        return str(protected.journal_for("GET", "/operators/1101")[-1].headers["x-vertexsms-token"])

    # VertexSMS stops accepting an access token (as at its expiry); revoking one at this AS would
    # revoke the whole grant, so the emulator is told instead.
    refused: set[str] = set()
    protected.token_check = lambda token: None if token in refused else as_server.token_check(token)
    async with machine.server(VERTEXSMS_LOG_LEVEL="DEBUG", TEST_BROWSER_MODE="decline") as server:
        calls: list[Any] = [await server.call_tool("get_operator", {"operatorId": 1101})]
        for _ in range(2):  # a refused access token → 401 → refresh → the call succeeds
            refused.add(current_access())
            calls.append(await server.call_tool("get_operator", {"operatorId": 1101}))
            ok(calls[-1])
        assert len(as_server.journal("grant", grant_type="refresh_token", client_id=client_id)) == 2
        calls.append(await server.call_tool("get_operator", {"operatorId": "nope"}))
        calls.append(await server.call_tool("send_sms", {"to": "x", "message": ""}))
        account, _ = next(iter(json.loads((machine.state_dir / "auth.json").read_text())["sessions"].items()))
        stored = json.loads(FileSecrets(machine.state_dir / "secrets.json").get(account) or "{}")
        as_server.revoke(stored["refresh_token"], "refresh_token", client_id)
        as_server.revoke(current_access(), "access_token", client_id)
        calls.append(await server.call_tool("get_operator", {"operatorId": 1101}))  # → declined sign-in
        assert envelope(calls[-1])["code"] == "AUTH_REQUIRED"
        calls.append(await server.call_tool("get_mobile_prefixes", {"country": "LT"}))
        results += [json.dumps(c.model_dump(mode="json")) for c in calls]
    for args in (["status"], ["status", "--json"], ["doctor"]):
        machine.run(*args)
    assert machine.run("login")[0] == 0
    assert machine.run("logout")[0] == 0
    machine.run("status", "--json")

    secrets = _secrets_seen(as_server, machine, client_of(machine)) | _secrets_seen(
        as_server, machine, client_id
    )
    exchanges = as_server.journal("grant", grant_type="authorization_code", client_id=client_id)
    assert len(exchanges) == 2  # the two logins (the server's own sign-in was declined)
    assert all(len(row["secrets"]) == 4 for row in exchanges)  # code, verifier, access, refresh
    assert len(secrets) >= 12, len(secrets)  # 2 sign-ins (4 each) + 2 refreshes (2 new each)
    texts = {f"output {i}": t for i, t in enumerate(machine.outputs)}
    texts.update({f"result {i}": t for i, t in enumerate(results)})
    for path in machine.home.rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            texts[str(path.relative_to(machine.home))] = path.read_text(errors="replace")
    assert {"server-stderr.txt", "logs/vertex-stdio.log"} <= set(texts)
    assert "DEBUG" in texts["server-stderr.txt"]  # the server really logged at DEBUG
    assert _scan(texts, secrets) == []
    state_dir = machine.state_dir
    modes = {
        str(p.relative_to(state_dir.parent)): stat.S_IMODE(p.stat().st_mode) for p in state_dir.rglob("*")
    }
    modes[state_dir.name] = stat.S_IMODE(state_dir.stat().st_mode)
    figure(f"state dir entries and modes: { {k: oct(v) for k, v in sorted(modes.items())} }")
    for name, mode in modes.items():
        path = state_dir.parent / name
        assert mode == (0o700 if path.is_dir() else 0o600), (name, oct(mode))


@pytest.mark.anyio
async def test_logout_without_the_setting_revokes_a_file_store_sign_in(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """Signed in with the file store, then `status` and `logout` without VERTEXSMS_ALLOW_FILE_STORE:
    status names the setting (not a `login` that would refuse); logout finds the file, revokes
    both tokens at the server and deletes it."""
    machine = Machine(tmp_path, protect(resource, as_server.issuer))
    assert machine.run("login")[0] == 0
    plain = machine.state_dir / "secrets.json"
    assert plain.exists()
    code, out, err = machine.run("status", VERTEXSMS_ALLOW_FILE_STORE="0")
    assert code == 1, err
    assert "Fix: It is kept in a private file" in out
    assert "VERTEXSMS_ALLOW_FILE_STORE=1" in out
    assert "Sign in with `vertex-stdio login`." not in out
    before = len(as_server.journal("revocation"))
    code, out, err = machine.run("logout", VERTEXSMS_ALLOW_FILE_STORE="0")
    assert code == 0, err
    assert "Signed out of" in out
    assert [r["token_type_hint"] for r in as_server.journal("revocation")][before:] == [
        "refresh_token",
        "access_token",
    ]
    assert not plain.exists()
    code, out, _ = machine.run("status", "--json")
    assert code == 1
    assert json.loads(out)["sessions"] == []
