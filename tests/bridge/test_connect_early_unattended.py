"""``connect`` with an unattended sign-in (``--client-credentials`` with a secret or
``--private-key``): its first call answered before the SDK is loaded when a token is ready, and
nothing sent early when none is.

Real processes over stdio against the Vocci-shaped remote (``remote_mcp.py``, which checks every
bearer at the authorization server and notes each request it receives, ``401`` for one refused) and
a real authorization server (node-oidc-provider with its ``client_credentials`` grant on,
``AS_CLIENT_CREDENTIALS``, and one pre-registered client).  A first run lets the link sign in as the
client (after the remote's 401) and cache the offer; one more keeps the SDK's answers for it.  Then
fresh processes make the first call, with the early path (told by its own log line) and with
``VERTEX_STDIO_LEAN_CALLS=0``:

- the token kept from the earlier run is used at the early first call (no grant);
- a due one (10-second tokens) is got again at the early first call with the same request to the
  token endpoint the link makes after its 401 (grant, scope, resource, client, client
  authentication), and the remote never sees an early request without a valid bearer;
- with the authorization server down, or refusing the client, the call is left whole: the remote
  receives from the early process exactly what it receives from the link path alone;
- the secret, the key and the tokens never reach stderr or the log at DEBUG;
- a command line ``connect`` refuses (exit 2) sends the remote nothing, the early path included
  (a key file that cannot be read is only found out at the first call: nothing goes out either).
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from loopback import serve_in_thread
from oauth_server.harness import AuthServer, auth_server, node_ready, stop
from secrets_absent import assert_no_secret
from stdio_server import INIT, Server
from test_connect import remote
from test_connect_early_calls import Remote, _call, cached
from test_connect_early_options import Noted

from bridge import process_env, rpc

pytestmark = pytest.mark.slow
NODE = pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))

SUPPORT = Path(__file__).resolve().parents[1] / "support"
CLIENT_ID = "vertex-machine"
SECRET = "Zq8mW3xK5tR7vN2pL9hB4cD6fJ1y"  # test-only: must never be logged
FETCH = {"name": "fetch", "arguments": {"id": "n1"}}
EARLY = "the early path answered 1 calls before the SDK was wanted"
LEFT = "fetch: left to the steady state (whole)"
TTL = 10  # seconds a token lives: the test waits it out; long enough for one run to use the one it got


def _b64(number: int, size: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(size, "big")).rstrip(b"=").decode()


def _key(home: Path) -> tuple[Path, dict[str, str], str]:
    """An EC P-256 key: its PEM file (0600), its public JWK, and the PEM's base64 body."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = home / "client-key.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x, 32), "y": _b64(numbers.y, 32)}
    body = "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))
    return path, jwk, body


def _clients(method: str, jwk: dict[str, str] | None = None) -> str:
    """``AS_CLIENTS``: the one machine client, authenticated by ``method``."""
    client: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "token_endpoint_auth_method": method,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
    }
    if jwk is None:
        client["client_secret"] = SECRET
    else:
        client["jwks"] = {"keys": [jwk]}
    return json.dumps([client])


@contextlib.contextmanager
def _world(home: Path, method: str, ttl: int) -> Iterator[tuple[AuthServer, str, tuple[str, ...], str]]:
    """The authorization server, the remote, the command line's sign-in options, and the key's body
    (empty for a secret)."""
    jwk, body, args = None, "", ("--client-credentials", "--client-id", CLIENT_ID)
    if method == "private_key_jwt":
        path, jwk, body = _key(home)
        args = (*args, "--private-key", str(path))
    else:
        how = {"client_secret_basic": "basic", "client_secret_post": "post"}[method]
        args = (*args, "--client-secret-env", "M_SECRET", "--client-auth", how)
    env = {"AS_AT_TTL": str(ttl), "AS_CLIENT_CREDENTIALS": "1", "AS_CLIENTS": _clients(method, jwk)}
    with auth_server(home, **env) as server, remote(server.issuer, home) as url:
        yield server, url, args, body


def _env(home: Path, **extra: str) -> dict[str, str]:
    return process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",  # no keyring here: the token is kept in a private file
        VERTEXSMS_LOG_LEVEL="DEBUG",
        VERTEXSMS_HTTP_TIMEOUT="10",
        BROWSER="false",
        M_SECRET=SECRET,
        **extra,
    )


def _prepared(env: dict[str, str], home: Path, url: str, args: tuple[str, ...]) -> None:
    """The link signs in as the client and lists (the offer cached); one more run keeps the SDK's
    answers for the cached offer (the lean front's)."""
    first = Server({**env, "VERTEXSMS_LOG_DIR": str(home / "logs-0")}, home, ("connect", url, *args))
    try:
        first.initialize()
        first.send(rpc("list", "tools/list"))
        assert "result" in first.answers({"list"}, timeout=60)["list"], first.diagnostics[-3000:]
        assert first.close_stdin() < 15
    finally:
        first.finish()
    again = Server({**env, "VERTEXSMS_LOG_DIR": str(home / "logs-1")}, home, ("connect", url, *args))
    try:
        again.initialize()
        assert again.close_stdin() < 15
    finally:
        again.finish()


def _first_call(env: dict[str, str], home: Path, url: str, args: tuple[str, ...]) -> tuple[bytes, str]:
    """A fresh ``connect``: the opening, the list, the first call; its answer line and its stderr and log."""
    server = Server(env, home, ("connect", url, *args))
    try:
        server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=30)["list"]
        start = len(server.raw)
        server.send(rpc("first", "tools/call", FETCH))
        server.answers({"first"}, timeout=60)
        [answer] = [line for line in bytes(server.raw[start:]).splitlines() if b'"id":"first"' in line]
        assert server.close_stdin() < 15
        return answer, server.diagnostics
    finally:
        server.finish()


def _received(home: Path) -> list[str]:
    """What the remote noted so far, one line per MCP request (its method, or ``401``)."""
    path = home / "remote.log"
    return path.read_text().splitlines() if path.exists() else []


def _grants(server: AuthServer) -> list[dict[str, Any]]:
    return server.journal("grant", grant_type="client_credentials", client_id=CLIENT_ID)


def _due(server: AuthServer) -> None:
    """Wait until the last token issued has expired (a bounded wait, not a measurement)."""
    issued = _grants(server)[-1]["at"] / 1000
    time.sleep(max(0.0, issued + TTL + 0.7 - time.time()))


def _run(
    env: dict[str, str], home: Path, url: str, args: tuple[str, ...], label: str, lean: str
) -> tuple[bytes, str, list[str]]:
    """One first call (``lean``: ``VERTEX_STDIO_LEAN_CALLS``): its answer, its diagnostics, and what
    the remote received from it."""
    before = len(_received(home))
    logs = str(home / f"logs-{label}")
    answer, log = _first_call(
        {**env, "VERTEX_STDIO_LEAN_CALLS": lean, "VERTEXSMS_LOG_DIR": logs}, home, url, args
    )
    return answer, log, _received(home)[before:]


def _no_secrets(log: str, server: AuthServer, key_body: str) -> None:
    """The secret, the key, and every token and client assertion the server saw or issued."""
    assert_no_secret(SECRET, log)
    if key_body:
        assert_no_secret(key_body, log)
    for grant in _grants(server):
        for secret in grant.get("secrets", []):
            assert_no_secret(secret, log)


@NODE
def test_a_kept_machine_token_answers_the_first_call_early_as_the_link(tmp_path: Path) -> None:
    """The token the link got in the first run is kept (the private file store): the early first
    call sends it, no grant is made, and the answer is the link path's."""
    with _world(tmp_path, "client_secret_basic", 600) as (server, url, args, key):
        env = _env(tmp_path)
        _prepared(env, tmp_path, url, args)
        assert len(_grants(server)) == 1  # the link's, after the remote's 401
        answers: dict[str, bytes] = {}
        for label, lean in (("early", "1"), ("link", "0")):
            answers[label], log, received = _run(env, tmp_path, url, args, label, lean)
            assert (EARLY in log) is (label == "early"), log[-3000:]
            assert "401" not in received, received
            assert "tools/call" in received
            _no_secrets(log, server, key)
        assert len(_grants(server)) == 1
    assert answers["early"] == answers["link"]
    assert json.loads(answers["early"])["result"]["isError"] is False


@NODE
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
def test_a_due_machine_token_is_got_at_the_early_first_call_as_the_link_gets_it(
    tmp_path: Path, method: str
) -> None:
    """The kept token has expired: the early first call gets a new one with the request the link
    makes after its 401 (the same grant, scope, resource and client authentication), before
    anything goes to the remote, which sees no request without a valid bearer."""
    with _world(tmp_path, method, TTL) as (server, url, args, key):
        env = _env(tmp_path)
        _prepared(env, tmp_path, url, args)
        answers: dict[str, bytes] = {}
        asked: dict[str, tuple[Any, ...]] = {}
        for label, lean in (("early", "1"), ("link", "0")):
            _due(server)
            count = len(_grants(server))
            answers[label], log, received = _run(env, tmp_path, url, args, label, lean)
            assert (EARLY in log) is (label == "early"), log[-3000:]
            grants = _grants(server)
            assert len(grants) == count + 1, label  # once, at the first call
            grant = grants[-1]
            asked[label] = (grant["scope"], grant["resource"], grant["auth"], grant.get("error"))
            if method == "private_key_jwt":  # the client assertion is among what must not be logged
                assert any(secret.count(".") == 2 for secret in grant["secrets"])
            if label == "early":
                assert "401" not in received, received
            _no_secrets(log, server, key)
        assert server.journal("grant_error") == []
    want = {"client_secret_basic": "basic", "client_secret_post": "post"}.get(method, method)
    assert asked["early"] == asked["link"]
    assert asked["early"][2] == want
    assert answers["early"] == answers["link"]
    assert json.loads(answers["early"])["result"]["isError"] is False


@NODE
@pytest.mark.parametrize("fault", ["as-down", "client-refused"])
def test_with_no_token_to_be_got_the_first_call_is_left_whole_with_nothing_sent_early(
    tmp_path: Path, fault: str
) -> None:
    """The kept token has expired and no new one can be got (the authorization server is gone, or
    refuses the client's secret): the early path sends the remote nothing (it receives from the
    early process exactly what it receives from the link path alone) and the link answers."""
    with _world(tmp_path, "client_secret_post", TTL) as (server, url, args, key):
        env = _env(tmp_path)
        _prepared(env, tmp_path, url, args)
        _due(server)
        if fault == "as-down":
            stop(server.process)
        else:
            env["M_SECRET"] = "not-the-secret-9a7c5e3b1d"
        answers: dict[str, bytes] = {}
        seen: dict[str, list[str]] = {}
        for label, lean in (("early", "1"), ("link", "0")):
            answers[label], log, seen[label] = _run(env, tmp_path, url, args, label, lean)
            assert (LEFT in log) is (label == "early"), log[-3000:]
            assert EARLY not in log
            _no_secrets(log, server, key)
    assert seen["early"] == seen["link"]
    assert "tools/call" not in seen["early"]  # never authorised: the remote refused every request
    assert json.loads(answers["early"])["result"]["isError"] is True
    assert answers["early"] == answers["link"]


REFUSED = {
    "no-client-id": ("--client-credentials", "--client-secret-env", "M_SECRET"),
    "no-secret-nor-key": ("--client-credentials", "--client-id", CLIENT_ID),
    "idp-in-part": ("--client-id", CLIENT_ID, "--client-secret-env", "M_SECRET", "--idp-client-id", "x"),
    "idp-token-unset": (
        *("--client-id", CLIENT_ID, "--client-secret-env", "M_SECRET", "--idp-client-id", "x"),
        *("--idp-token-endpoint", "https://idp.example/token", "--idp-id-token-env", "M_UNSET"),
    ),
    "idp-endpoint-not-https": (
        *("--client-id", CLIENT_ID, "--client-secret-env", "M_SECRET", "--idp-client-id", "x"),
        *("--idp-token-endpoint", "http://idp.example/token", "--idp-id-token-env", "M_SECRET"),
    ),
    "key-not-a-key": ("--client-credentials", "--client-id", CLIENT_ID, "--private-key", "KEYFILE"),
}


@pytest.mark.parametrize("refused", sorted(REFUSED))
def test_an_unattended_command_line_connect_refuses_sends_nothing_early(tmp_path: Path, refused: str) -> None:
    """The cached offer answers the opening; the first call waits for ``command_for``, which refuses
    the command line (exit 2): the remote received nothing from this process."""
    remote_ = Remote("sse", "modern")
    noted = Noted(remote_.received)
    keyfile = tmp_path / "not-a-key.pem"
    keyfile.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    args = tuple(str(keyfile) if a == "KEYFILE" else a for a in REFUSED[refused])
    with serve_in_thread(noted) as base:
        remote_.url = f"{base}/mcp"
        cached(tmp_path, remote_.url)
        noted.seen.clear()
        env = process_env(
            tmp_path, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEXSMS_LOG_LEVEL="DEBUG", M_SECRET=SECRET
        )
        server = Server(env, tmp_path, ("connect", remote_.url, *args))
        try:
            server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
            server.send(rpc("list", "tools/list") + _call("first", "act", {"how": "ok"}))
            assert "result" in server.answers({"list"}, timeout=30)["list"]
            server.proc.wait(timeout=30)
            assert server.proc.returncode == 2, server.diagnostics[-3000:]
            assert_no_secret(SECRET, server.diagnostics)
            if refused == "key-not-a-key":  # only reading the key tells: the early path left the call
                assert "act: left to the steady state (whole)" in server.diagnostics
        finally:
            server.finish()
    assert noted.seen == []
    assert remote_.script.seen["act:ok"] == 0
