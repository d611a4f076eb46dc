"""``connect`` with a kept sign-in answers ``initialize`` and ``tools/list`` from its cached offer
without touching the keyring or the network; its first call then reads the sign-in's key and
reaches the remote.  Observed, not assumed.

Real processes over stdio against the Vocci-shaped remote (``remote_mcp.py``) and its real
authorization server (node-oidc-provider), signed in once through ``connect`` itself with the
scripted browser, then served once from the cache (so the lean front has its kept answers).  The keyring is ``watched_keyring.WatchedKeyring`` (selected as keyring documents,
``PYTHON_KEYRING_BACKEND``): it writes every opening, read, write and delete (never the secret) into
one ordered log, beside every request the process sends through a recording forward proxy
(``HTTP_PROXY``) and the test's own marks.  Today's ``connect`` answers its first call on the SDK's
path; an early first call must keep these assertions true (what the first call reads is the same).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from first_call import observe_first_call, recording_proxy
from oauth_server.harness import AuthServer, auth_server, node_ready
from secrets_absent import assert_no_secret
from stdio_server import Server
from test_connect import remote
from watch_log import WATCH_FILE, Watch

from bridge import process_env, rpc

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

SUPPORT = Path(__file__).resolve().parents[1] / "support"
FETCH = {"name": "fetch", "arguments": {"id": "n1"}}


@pytest.fixture(scope="module")
def as_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("as")) as server:
        yield server


@pytest.fixture
def remote_url(as_server: AuthServer, tmp_path: Path) -> Iterator[str]:
    with remote(as_server.issuer, tmp_path) as url:
        yield url


def _env(home: Path, watch: Watch, **extra: str) -> dict[str, str]:
    return process_env(
        home,
        PYTHON_KEYRING_BACKEND="watched_keyring.WatchedKeyring",
        TEST_KEYRING_FILE=str(home / "keyring.json"),
        PYTHONPATH=str(SUPPORT),
        VERTEXSMS_LOG_LEVEL="DEBUG",
        **{WATCH_FILE: str(watch.path), **extra},
    )


def _sign_in_once(env: dict[str, str], home: Path, url: str) -> None:
    """``connect URL`` and its ``sign_in`` tool with the scripted browser consenting, as a person
    does the first time; the session's end leaves the sign-in and the remote's offer cached."""
    script = home / "browser.sh"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{SUPPORT / "oauth_server" / "browser.py"}" "$@"\n'
    )
    script.chmod(0o700)
    browsing = {**env, "BROWSER": str(script), "TEST_BROWSER_MODE": "consent"}
    server = Server({**browsing, "VERTEXSMS_LOG_DIR": str(home / "logs-sign-in")}, home, ("connect", url))
    try:
        server.initialize()
        server.send(rpc("sign-in", "tools/call", {"name": "sign_in", "arguments": {}}))
        assert server.answers({"sign-in"}, timeout=90)["sign-in"]["result"]["isError"] is False
        assert server.close_stdin() < 15
    finally:
        server.finish()


def _served_from_cache(env: dict[str, str], home: Path, url: str) -> None:
    """One session served from the cache, as the next start finds it: it keeps the SDK's
    ``initialize`` answer beside the offer, which the lean front needs (else ``connect`` starts as before)."""
    server = Server(
        {**env, "BROWSER": "false", "VERTEXSMS_LOG_DIR": str(home / "logs-cached")}, home, ("connect", url)
    )
    try:
        server.initialize()
        assert server.close_stdin() < 15
    finally:
        server.finish()
    assert list(home.rglob("answers.json"))


@pytest.mark.parametrize("idle", [False, True], ids=["call-at-once", "idle-until-sdk"])
def test_connect_starts_from_its_cache_without_keyring_or_network(
    tmp_path: Path, remote_url: str, as_server: AuthServer, idle: bool
) -> None:
    watch = Watch(tmp_path / "watch.jsonl")
    env = _env(tmp_path, watch)
    _sign_in_once(env, tmp_path, remote_url)
    _served_from_cache(env, tmp_path, remote_url)
    signed_in = watch.mark("signed in")
    key = ("get", next(e["service"] for e in watch.events("keyring") if e["op"] == "set"), "sealing-key")
    with recording_proxy(watch) as proxy:
        seen = observe_first_call(
            {**env, "HTTP_PROXY": proxy, "BROWSER": "false"},
            tmp_path,
            watch,
            "connect",
            settle=idle,
            args=("connect", remote_url),
            call=FETCH,
        )
    assert seen.opening == [], seen.opening  # no keyring, no request: the cached offer answered
    assert "the lean front answered 2 requests" in seen.log  # initialize and tools/list, SDK-free
    assert seen.result["isError"] is False
    # By the first call's answer the sign-in's key was read, once, and the remote reached (today
    # the link opens once the SDK has loaded: at the call, or before it when the client is idle).
    used = [e for e in watch.events(after=signed_in) if e["kind"] != "mark"]
    assert [(e["op"], e["service"], e["username"]) for e in used if e["kind"] == "keyring"] == [
        ("open", "", ""),
        key,
    ]
    assert {e["request"] for e in used if e["kind"] == "http"} == {f"POST {remote_url}"}
    secrets = [s for row in as_server.journal("grant") for s in row.get("secrets", [])]
    for secret in secrets:
        assert_no_secret(secret, seen.log, seen.answer.decode(), watch.path.read_text())
