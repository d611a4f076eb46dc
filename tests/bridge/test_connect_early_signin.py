"""``connect``'s first call with a kept browser (OAuth) sign-in whose access token is due: the
early path refreshes it at that call (never at start-up) and answers with the link path's bytes.

Real processes over stdio against the Vocci-shaped remote (``remote_mcp.py``) and its real
authorization server (node-oidc-provider, 6-second access tokens), signed in once through
``connect``'s own ``sign_in`` tool with the scripted browser, kept in the private file store.  One more run leaves the SDK's answers for the cached offer (the lean front's), then
each first call waits until the access token is due: the early process (told by its own log
line) and ``VERTEX_STDIO_LEAN_CALLS=0`` each refresh once, at their first call, and answer alike.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from oauth_server.harness import AuthServer, auth_server, node_ready
from stdio_server import INIT, Server
from test_connect import remote
from test_connect_secret import CLIENT_ID, SECRET, confidential, free_port

from bridge import process_env, rpc

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

SUPPORT = Path(__file__).resolve().parents[1] / "support"
TTL = 6  # seconds an access token lives; the test waits it out so the first call finds it due
FETCH = {"name": "fetch", "arguments": {"id": "n1"}}
EARLY = "the early path answered 1 calls before the SDK was wanted"


@pytest.fixture(scope="module")
def short_as(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("as"), AS_AT_TTL=str(TTL)) as server:
        yield server


def _env(home: Path, **extra: str) -> dict[str, str]:
    return process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",  # no keyring here: the sign-in is kept in a private file
        PYTHONPATH=str(SUPPORT),
        VERTEXSMS_LOG_LEVEL="DEBUG",
        BROWSER="false",
        **extra,
    )


def _signed_in(env: dict[str, str], home: Path, url: str, *args: str) -> float:
    """``connect URL`` and its ``sign_in`` tool, the scripted browser consenting; then one more run
    (the SDK's answers for the cached offer are kept).  Returns when the token was issued."""
    script = home / "browser.sh"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{SUPPORT / "oauth_server" / "browser.py"}" "$@"\n'
    )
    script.chmod(0o700)
    browsing = {**env, "BROWSER": str(script), "TEST_BROWSER_MODE": "consent"}
    server = Server(browsing, home, ("connect", url, *args))
    try:
        server.initialize()
        server.send(rpc("sign-in", "tools/call", {"name": "sign_in", "arguments": {}}))
        assert server.answers({"sign-in"}, timeout=90)["sign-in"]["result"]["isError"] is False
        issued = time.monotonic()
        assert server.close_stdin() < 15
    finally:
        server.finish()
    again = Server(env, home, ("connect", url, *args))
    try:
        again.initialize()
        assert again.close_stdin() < 15
    finally:
        again.finish()
    return issued


def _first_call(env: dict[str, str], home: Path, url: str, *args: str) -> tuple[bytes, str]:
    """A fresh ``connect``: the opening, the list, the first call; its answer line and its log."""
    server = Server(env, home, ("connect", url, *args))
    try:
        server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=30)["list"]
        start = len(server.raw)
        server.send(rpc("first", "tools/call", FETCH))
        assert "result" in server.answers({"first"}, timeout=60)["first"]
        [answer] = [line for line in bytes(server.raw[start:]).splitlines() if b'"id":"first"' in line]
        assert server.close_stdin() < 15
        return answer, server.diagnostics
    finally:
        server.finish()


def _due(since: float) -> None:
    """Wait until a token issued at ``since`` has expired (a bounded wait, not a measurement)."""
    time.sleep(max(0.0, since + TTL + 0.5 - time.monotonic()))


@pytest.mark.parametrize(
    "args",
    [(), ("--client-metadata-url", "https://client.example/vertex-stdio.json")],
    ids=["plain", "client-metadata-url"],
)
def test_a_due_access_token_is_refreshed_at_the_early_first_call_which_answers_as_the_link(
    tmp_path: Path, short_as: AuthServer, args: tuple[str, ...]
) -> None:
    """With ``--client-metadata-url`` too (this server supports no client ID metadata documents,
    so the sign-in registers a client: both paths' providers then refresh as that client)."""
    with remote(short_as.issuer, tmp_path) as url:
        env = _env(tmp_path)
        issued = _signed_in(env, tmp_path, url, *args)
        answers: dict[str, bytes] = {}
        clients: dict[str, object] = {}
        for label, lean in (("early", "1"), ("link", "0")):
            refreshes = len(short_as.journal("grant", grant_type="refresh_token"))
            _due(issued)
            logs = str(tmp_path / f"logs-{label}")  # each run's log of its own
            answers[label], log = _first_call(
                {**env, "VERTEX_STDIO_LEAN_CALLS": lean, "VERTEXSMS_LOG_DIR": logs}, tmp_path, url, *args
            )
            issued = time.monotonic()  # the refresh at this call issued a new token
            granted = short_as.journal("grant", grant_type="refresh_token")
            assert len(granted) == refreshes + 1, label
            clients[label] = granted[-1]["client_id"]
            assert (EARLY in log) is (label == "early"), log[-3000:]
    assert clients["early"] == clients["link"]
    assert answers["early"] == answers["link"]
    assert json.loads(answers["early"])["result"]["isError"] is False


def test_a_confidential_clients_due_token_is_refreshed_with_its_secret_at_the_early_first_call(
    tmp_path: Path,
) -> None:
    """``--client-id ID --client-secret-env VAR --client-auth post`` at a server that knows the client
    with ``client_secret_post`` only (``AS_POST_ONLY``: Basic is refused and journalled): the early
    first call's refresh is granted (so it sent the secret, in the body) exactly as the link's is,
    and the secret never appears in the log at DEBUG."""
    port = free_port()
    clients = confidential(port, "client_secret_post")
    with (
        auth_server(
            tmp_path,
            AS_AT_TTL=str(TTL),
            AS_NO_REGISTRATION="1",
            AS_REFRESH_ALWAYS="1",
            AS_CLIENTS=clients,
            AS_POST_ONLY="1",
        ) as as_server,
        remote(as_server.issuer, tmp_path) as url,
    ):
        env = _env(tmp_path, VERTEXSMS_CALLBACK_PORT=str(port), CONF_SECRET=SECRET)
        args = ("--client-id", CLIENT_ID, "--client-secret-env", "CONF_SECRET", "--client-auth", "post")
        issued = _signed_in(env, tmp_path, url, *args)
        answers: dict[str, bytes] = {}
        for label, lean in (("early", "1"), ("link", "0")):
            refreshes = len(as_server.journal("grant", grant_type="refresh_token", client_id=CLIENT_ID))
            _due(issued)
            logs = str(tmp_path / f"logs-{label}")
            answers[label], log = _first_call(
                {**env, "VERTEX_STDIO_LEAN_CALLS": lean, "VERTEXSMS_LOG_DIR": logs}, tmp_path, url, *args
            )
            issued = time.monotonic()
            granted = as_server.journal("grant", grant_type="refresh_token", client_id=CLIENT_ID)
            assert len(granted) == refreshes + 1, label
            assert (EARLY in log) is (label == "early"), log[-3000:]
            assert SECRET not in log
        assert as_server.journal("grant_error") == []
        assert as_server.journal("basic_refused") == []
    assert answers["early"] == answers["link"]
    assert json.loads(answers["early"])["result"]["isError"] is False
