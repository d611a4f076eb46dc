"""``serve`` with a kept sign-in touches neither the keyring nor the network before ``tools/list``
is answered, and its first call reads what it needs: observed, not assumed.

Real processes over stdio.  The sign-in is kept by the real ``login --token`` or by a real browser
sign-in (node-oidc-provider, the scripted browser) in ``watched_keyring.WatchedKeyring``, a keyring
backend selected as keyring documents (``PYTHON_KEYRING_BACKEND``) that writes every opening, read,
write and delete (service and username, never the secret) into one ordered log; every request the
process sends goes through a loopback forward proxy that writes into the same log; the test writes
its marks there.  Both the early path (the first call right after ``tools/list``, as clients send
it) and a client that stays idle until the SDK has loaded are watched.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from first_call import EARLY, Observed, observe_first_call, recording_proxy, watched_env
from oauth_server.harness import AuthServer, auth_server, node_ready
from secrets_absent import assert_no_secret
from watch_log import Watch

from bridge import keep_token, vertex
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator

pytestmark = pytest.mark.slow

TOKEN = "vx-live-3c1d9e8f7a6b5c4d3e2f"
BROWSER = Path(__file__).resolve().parents[1] / "support" / "oauth_server" / "browser.py"
KEY = ("get", "vertex-stdio", "sealing-key")  # the sealed store's key: all a first call reads


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        yield emu


@pytest.fixture(scope="module")
def as_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    if node_ready() is not None:
        pytest.skip(str(node_ready()))
    with auth_server(tmp_path_factory.mktemp("as")) as server:
        yield server


@pytest.fixture
def protected(as_server: AuthServer) -> Iterator[Emulator]:
    """VertexSMS accepting the live tokens of the test authorization server."""
    with Emulator(tokens={}, authorization_servers=[as_server.issuer]) as emu:
        emu.token_check = as_server.token_check
        yield emu


def _browser(home: Path) -> dict[str, str]:
    """BROWSER = the scripted browser, consenting."""
    script = home / "browser.sh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{BROWSER}" "$@"\n')
    script.chmod(0o700)
    return {"BROWSER": str(script), "TEST_BROWSER_MODE": "consent"}


def _quiet_opening(seen: Observed) -> None:
    """Nothing reached the keyring (not even its opening) and nothing was sent before the answer."""
    assert seen.opening == [], seen.opening


@pytest.mark.parametrize("idle", [False, True], ids=["early-path", "idle-until-sdk"])
def test_a_kept_token_is_read_at_the_first_call_not_at_start_up(
    tmp_path: Path, emulator: Emulator, idle: bool
) -> None:
    watch = Watch(tmp_path / "watch.jsonl")
    env = watched_env(tmp_path, emulator, watch, BROWSER="false")
    keep_token(env, TOKEN)
    assert ("set", "vertex-stdio", "sealing-key") in [
        (e["op"], e["service"], e["username"]) for e in watch.events("keyring")
    ]  # the watch sees the login keep its key: it is watching
    with recording_proxy(watch) as proxy:
        seen = observe_first_call({**env, "HTTP_PROXY": proxy}, tmp_path, watch, "serve", settle=idle)
    _quiet_opening(seen)
    assert seen.keyring() == [("open", "", ""), KEY]
    assert set(seen.requests()) == {f"POST {emulator.mcp_url}"}
    assert seen.result["isError"] is False
    assert (EARLY in seen.log) is not idle  # idle: the SDK had loaded, and answered
    assert_no_secret(TOKEN, seen.log, seen.answer.decode(), watch.path.read_text())


@pytest.mark.parametrize("idle", [False, True], ids=["early-path", "idle-until-sdk"])
def test_a_kept_browser_sign_in_is_read_at_the_first_call_not_at_start_up(
    tmp_path: Path, protected: Emulator, as_server: AuthServer, idle: bool
) -> None:
    watch = Watch(tmp_path / "watch.jsonl")
    env = watched_env(tmp_path, protected, watch)
    signed_in = vertex({**env, **_browser(tmp_path)}, "login")
    assert signed_in.returncode == 0, signed_in.stderr
    refreshes = len(as_server.journal("grant", grant_type="refresh_token"))
    with recording_proxy(watch) as proxy:
        seen = observe_first_call(
            {**env, "HTTP_PROXY": proxy, "BROWSER": "false"}, tmp_path, watch, "serve", settle=idle
        )
    _quiet_opening(seen)
    assert seen.keyring() == [("open", "", ""), KEY]  # the access token is fresh: no refresh, one read
    assert set(seen.requests()) == {f"POST {protected.mcp_url}"}
    assert len(as_server.journal("grant", grant_type="refresh_token")) == refreshes
    assert seen.result["isError"] is False
    assert (EARLY in seen.log) is not idle
    secrets = [s for row in as_server.journal("grant") for s in row.get("secrets", [])]
    assert_no_secret_any(secrets, seen.log, seen.answer.decode(), watch.path.read_text())


def assert_no_secret_any(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        assert_no_secret(secret, *texts)
