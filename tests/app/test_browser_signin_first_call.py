"""A browser (OAuth) sign-in's first call in ``serve``: answered before the SDK loads, with the
SDK path's bytes, its due access token refreshed at that call; a refresh that fails asks for a
sign-in, the same on both paths, with a command that runs as printed.

Real processes over stdio: the real ``login`` signs in with the scripted browser at a real
authorization server (node-oidc-provider, 6-second access tokens, rotating refresh tokens) and
keeps the sign-in sealed in the state directory, its key in a keyring (``WatchedKeyring``, which
writes each use into one ordered log beside every request the process sends through a recording
forward proxy).  VertexSMS is the sandbox emulator accepting that server's live tokens.  The
early path is told by its own log line (as tests/app/test_kept_signin_first_call.py does for
``login --token``); the SDK path is the same ``serve`` with ``VERTEX_STDIO_LEAN_CALLS=0``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from first_call import EARLY, Observed, observe_first_call, recording_proxy, watched_env
from oauth_server.filekeyring import FileKeyring
from oauth_server.harness import AuthServer, auth_server, node_ready
from secrets_absent import assert_no_secret
from watch_log import Watch

from vertex_stdio.core.launcher import launcher
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import KeyringSecrets
from vertex_stdio.oauth.storage.store import SEALED_FILE
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

TTL = 6  # seconds an access token lives; the tests wait it out so the first call finds it due
BROWSER = Path(__file__).resolve().parents[1] / "support" / "oauth_server" / "browser.py"
KEY = ("get", "vertex-stdio", "sealing-key")
SDK_PATH = {"VERTEX_STDIO_LEAN_CALLS": "0"}
LINK = re.compile(rb"http://127\.0\.0\.1:\d+/start/[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def short_as(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("as"), AS_AT_TTL=str(TTL)) as server:
        yield server


@pytest.fixture(scope="module")
def protected(short_as: AuthServer) -> Iterator[Emulator]:
    """VertexSMS accepting the live tokens of the test authorization server."""
    with Emulator(tokens={}, authorization_servers=[short_as.issuer]) as emu:
        emu.token_check = short_as.token_check
        yield emu


def _browsing(home: Path) -> dict[str, str]:
    """BROWSER = the scripted browser, consenting (for ``login``)."""
    script = home / "browser.sh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{BROWSER}" "$@"\n')
    script.chmod(0o700)
    return {"BROWSER": str(script), "TEST_BROWSER_MODE": "consent"}


def _run(command: list[str], env: dict[str, str]) -> float:
    """Run ``command`` to its end (it must succeed); returns when it ended (monotonic)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic()


def _due(since: float) -> None:
    """Wait until a token issued before ``since`` has expired (a bounded wait, not a measurement)."""
    time.sleep(max(0.0, since + TTL + 0.5 - time.monotonic()))


def _refreshed(seen: Observed, issuer: str, mcp_url: str) -> None:
    """Nothing was read or sent before the ``tools/list`` answer; the first call read the sealed
    store's key once before its first request (the refresh at the AS), and the key alone after it
    (to seal the refreshed tokens), then called VertexSMS."""
    assert seen.opening == [], seen.opening
    assert seen.read_first() == [("open", "", ""), KEY]
    assert set(seen.keyring()) == {("open", "", ""), KEY}
    requests = seen.requests()
    assert requests[0] == f"POST {issuer}/token"
    assert set(requests[1:]) == {f"POST {mcp_url}"}


def _grant_secrets(server: AuthServer) -> list[str]:
    return [s for row in server.journal() for s in row.get("secrets", [])]


def test_a_due_access_token_is_refreshed_at_the_early_first_call_which_answers_as_the_sdk(
    tmp_path: Path, short_as: AuthServer, protected: Emulator
) -> None:
    watch = Watch(tmp_path / "watch.jsonl")
    env = watched_env(tmp_path, protected, watch)
    signed_in = _run([sys.executable, "-m", "vertex_stdio", "login"], {**env, **_browsing(tmp_path)})
    refreshes = len(short_as.journal("grant", grant_type="refresh_token"))
    answers: dict[str, bytes] = {}
    with recording_proxy(watch) as proxy:
        serving = {**env, "HTTP_PROXY": proxy, "BROWSER": "false"}
        for label, extra in (("early", {}), ("sdk", SDK_PATH)):
            _due(signed_in)
            seen = observe_first_call({**serving, **extra}, tmp_path, watch, label)
            signed_in = time.monotonic()  # the refresh at this call issued a new token
            _refreshed(seen, short_as.issuer, protected.mcp_url)
            assert (EARLY in seen.log) is (label == "early")
            assert ("the first lean call is answered; the SDK is not imported" in seen.log) is (
                label == "early"
            )
            answers[label] = seen.answer
            texts = (seen.log, seen.answer.decode(), watch.path.read_text())
            for secret in _grant_secrets(short_as):
                assert_no_secret(secret, *texts)
    assert answers["early"] == answers["sdk"]
    assert json.loads(answers["early"])["result"]["isError"] is False
    assert len(short_as.journal("grant", grant_type="refresh_token")) == refreshes + 2  # one per first call


def _kept_session(home: Path) -> tuple[str, str]:
    """The kept session's refresh token and client id, read from the sealed store as the product
    keeps it (the key from the file keyring, without the watch)."""
    [state] = (home / "state").rglob("auth.json")
    data = json.loads(state.read_text())
    [account] = data["sessions"]
    [client] = data["clients"].values()
    sealed = SealedSecrets(state.parent / SEALED_FILE, KeyringSecrets(FileKeyring()))
    stored = sealed.get(account)
    assert stored is not None
    return str(json.loads(stored)["refresh_token"]), str(client["client_id"])


def _one_link(answer: bytes) -> bytes:
    """``answer`` with its sign-in link (one; a one-time start URL on a port of the moment, so
    never the same twice; in the message and as ``authorization_url``) put as ``LINK``."""
    assert len(set(LINK.findall(answer))) == 1, answer
    return LINK.sub(b"LINK", answer)


def _sign_in_command(error: dict[str, Any]) -> list[str]:
    """The one command the error tells the person to run (quoted in backquotes; it starts with this
    installation's launcher, and signs in)."""
    me = shlex.split(launcher())
    [command] = [shlex.split(c) for c in re.findall(r"`([^`]+)`", error["message"])]
    assert command == [*me, "login"], error["message"]
    return command


def test_a_refresh_refused_at_the_first_call_asks_for_a_sign_in_the_same_on_both_paths(
    tmp_path: Path, short_as: AuthServer, protected: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = Watch(tmp_path / "watch.jsonl")
    homes = {"early": tmp_path / "early", "sdk": tmp_path / "sdk"}
    env = watched_env(homes["early"], protected, watch)
    signed_in = _run([sys.executable, "-m", "vertex_stdio", "login"], {**env, **_browsing(tmp_path)})
    monkeypatch.setenv("TEST_KEYRING_FILE", env["TEST_KEYRING_FILE"])
    refresh_token, client_id = _kept_session(homes["early"])
    short_as.revoke(refresh_token, "refresh_token", client_id)  # signed out elsewhere
    shutil.copytree(homes["early"], homes["sdk"])  # both paths start from the same kept sign-in
    _due(signed_in)
    answers: dict[str, bytes] = {}
    with recording_proxy(watch) as proxy:
        for label, extra in (("early", {}), ("sdk", SDK_PATH)):
            serving = watched_env(homes[label], protected, watch, HTTP_PROXY=proxy, BROWSER="false", **extra)
            seen = observe_first_call(serving, homes[label], watch, label)
            assert seen.opening == [], seen.opening
            assert seen.read_first() == [("open", "", ""), KEY]  # once, to open the sign-in
            assert ("set", "vertex-stdio", "sealing-key") not in seen.keyring()
            assert f"POST {short_as.issuer}/token" in seen.requests()  # the refresh was tried, and refused
            assert EARLY not in seen.log  # the early path left the call to the SDK's session, whole
            answers[label] = seen.answer
    assert _one_link(answers["early"]) == _one_link(answers["sdk"])
    result = json.loads(answers["early"])["result"]
    assert result["isError"] is True
    error = json.loads(result["content"][0]["text"])["error"]
    assert error["code"] == "AUTH_REQUIRED"
    command = _sign_in_command(error)
    _run(command, {**env, **_browsing(tmp_path)})  # the command signs in again, as printed
    with recording_proxy(watch) as proxy:
        again = observe_first_call(
            {**env, "HTTP_PROXY": proxy, "BROWSER": "false"}, homes["early"], watch, "again"
        )
    assert json.loads(again.answer)["result"]["isError"] is False
    assert EARLY in again.log
