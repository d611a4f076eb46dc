"""The pure core, metadata validation, the receiver, the secret stores and the state file."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import pytest
from keyring.errors import PasswordDeleteError
from oauth_server.helpers import bind_browser

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.protocol.core import (
    TokenResponseInvalid,
    Tokens,
    as_metadata_urls,
    check_iss,
    choose_scopes,
    client_authentication,
    parse_token_response,
    prm_locations,
    prm_urls,
    resource_identifiers,
    resource_matches,
    s256_challenge,
    same_secret,
    secret_method,
)
from vertex_stdio.oauth.protocol.metadata import (
    MetadataInvalid,
    parse_resource_metadata,
    parse_server_metadata,
)
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import (
    CHUNK,
    FileSecrets,
    KeyringSecrets,
    MemorySecrets,
    Secrets,
    SecretsUnavailable,
)
from vertex_stdio.oauth.storage.state import StateFile
from vertex_stdio.oauth.storage.store import SessionKey
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_advice, vertexsms_profile


class DictKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend (negative priority: auto-detection never picks it)."""

    priority = -2  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("missing")


def test_pkce_s256_agrees_with_authlib_and_verifiers_are_long() -> None:
    """Our S256 challenge equals Authlib's; verifiers are 43..128 unreserved characters."""
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    from vertex_stdio.oauth.protocol.core import new_verifier

    verifier = new_verifier()
    assert 43 <= len(verifier) <= 128
    assert s256_challenge(verifier) == create_s256_code_challenge(verifier)
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", None)


def test_each_metadata_location_names_the_resources_it_may_describe() -> None:
    """RFC 9728 §3.3: the header's and the path location describe the MCP URL; the root one its
    origin (or the MCP URL itself); a server at the root has one location and one identifier."""
    assert prm_locations("https://m.example/mcp", "https://m.example/x") == [
        ("https://m.example/x", ("https://m.example/mcp",)),
        ("https://m.example/.well-known/oauth-protected-resource/mcp", ("https://m.example/mcp",)),
        (
            "https://m.example/.well-known/oauth-protected-resource",
            ("https://m.example/mcp", "https://m.example"),
        ),
    ]
    assert prm_locations("https://m.example", None) == [
        ("https://m.example/.well-known/oauth-protected-resource", ("https://m.example",))
    ]
    assert resource_identifiers("https://M.example/mcp/") == ("https://m.example/mcp", "https://m.example")
    root = {"resource": "https://m.example", "authorization_servers": ["https://as.example"]}
    assert (
        parse_resource_metadata(root, "https://m.example/mcp", "https://m.example").resource
        == "https://m.example"
    )
    with pytest.raises(MetadataInvalid):
        parse_resource_metadata(root, "https://m.example/mcp")


def test_client_authentication_follows_rfc_6749() -> None:
    """Basic carries the form-urlencoded id and secret; post puts both in the body; public: the id."""
    fields, headers = client_authentication("id 1", "s:e/cret", "client_secret_basic")
    assert fields == {}
    assert base64.b64decode(headers["Authorization"].removeprefix("Basic ")) == b"id+1:s%3Ae%2Fcret"
    assert client_authentication("id", "s", "client_secret_post") == (
        {"client_id": "id", "client_secret": "s"},
        {},
    )
    assert client_authentication("id", None, "client_secret_basic") == ({"client_id": "id"}, {})
    assert client_authentication("id", "s", "none") == ({"client_id": "id"}, {})
    assert secret_method([]) == "client_secret_basic"
    assert secret_method(["client_secret_post", "none"]) == "client_secret_post"
    assert secret_method(["private_key_jwt", "client_secret_basic"]) == "client_secret_basic"
    # --client-auth wins over the metadata: a client registered for post at a server listing both
    assert (
        secret_method(["client_secret_basic", "client_secret_post"], "client_secret_post")
        == "client_secret_post"
    )
    assert secret_method(["client_secret_post"], "client_secret_basic") == "client_secret_basic"


def test_discovery_urls_follow_the_spec_order() -> None:
    """PRM: header, path-inserted, root; AS: RFC 8414 then OIDC (path-inserted, path-appended)."""
    assert prm_urls("https://m.example/mcp", "https://m.example/x") == [
        "https://m.example/x",
        "https://m.example/.well-known/oauth-protected-resource/mcp",
        "https://m.example/.well-known/oauth-protected-resource",
    ]
    assert as_metadata_urls("https://a.example/tenant") == [
        "https://a.example/.well-known/oauth-authorization-server/tenant",
        "https://a.example/.well-known/openid-configuration/tenant",
        "https://a.example/tenant/.well-known/openid-configuration",
    ]
    assert as_metadata_urls("https://a.example") == [
        "https://a.example/.well-known/oauth-authorization-server",
        "https://a.example/.well-known/openid-configuration",
    ]


def test_resource_match_is_exact_never_a_parent() -> None:
    """The metadata's resource must be the configured resource itself (canonically), not a parent."""
    assert resource_matches("https://m.example/mcp", "https://m.example/mcp")
    assert resource_matches("HTTPS://M.example/mcp/", "https://m.example/mcp")
    assert not resource_matches("https://m.example/", "https://m.example/mcp")
    assert not resource_matches("https://evil.example/mcp", "https://m.example/mcp")
    assert not resource_matches("https://m.example/mcpx", "https://m.example/mcp")


def test_scopes_settings_then_challenge_then_metadata_plus_offline_access() -> None:
    """Scope choice order, and offline_access only when the server offers it."""
    assert choose_scopes(("a",), ("b",), ("c",), (), offline_access=False) == ("a",)
    assert choose_scopes(None, ("b",), ("c",), (), offline_access=True) == ("b", "offline_access")
    assert choose_scopes(None, (), ("c", "d"), ("openid",), offline_access=False) == ("c", "d")
    assert choose_scopes(None, (), (), ("openid", "offline_access", "e"), offline_access=True) == (
        "e",
        "offline_access",
    )


@pytest.mark.parametrize(
    ("supported", "got", "ok"),
    [(True, "https://as", True), (True, None, False), (True, "https://other", False), (False, None, True)],
)
def test_iss_rules_of_rfc9207(supported: bool, got: str | None, ok: bool) -> None:
    """The RFC 9207 §2.4 table."""
    assert (check_iss("https://as", got, required=supported) is None) is ok


def test_token_parsing_never_echoes_the_token() -> None:
    """A bad token answer names the field, never the value; a missing refresh token keeps the old one."""
    canary = "AT-CANARY-1234567890"
    for body in (
        {"access_token": canary, "token_type": "mac"},
        {"access_token": canary, "token_type": "Bearer", "expires_in": "soon"},
    ):
        with pytest.raises(TokenResponseInvalid) as caught:
            parse_token_response(body, now=0, requested=())
        assert canary not in str(caught.value)
    tokens = parse_token_response(
        {"access_token": canary, "token_type": "bearer", "expires_in": 60},
        now=100,
        requested=("x",),
        previous_refresh="RT",
    )
    assert tokens == Tokens(canary, "RT", 160.0, ("x",), issued_at=100)
    assert canary not in repr(tokens)
    assert tokens.leeway == 6.0  # a tenth of a 60 s life
    assert tokens.usable(153.9)
    assert not tokens.usable(154.1)


def _as(issuer: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "code_challenge_methods_supported": ["S256"],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_server_metadata_refusals() -> None:
    """Issuer mismatch, missing S256 and plain-http endpoints off loopback are all refused."""
    issuer = "https://as.example"
    assert parse_server_metadata(_as(issuer), issuer).token_endpoint == f"{issuer}/token"
    with pytest.raises(MetadataInvalid, match="issuer"):
        parse_server_metadata(_as("https://evil.example"), issuer)
    with pytest.raises(MetadataInvalid, match="S256"):
        parse_server_metadata(_as(issuer, code_challenge_methods_supported=["plain"]), issuer)
    with pytest.raises(MetadataInvalid, match="S256"):
        parse_server_metadata(_as(issuer, code_challenge_methods_supported=None), issuer)
    with pytest.raises(MetadataInvalid, match="http"):
        parse_server_metadata(_as(issuer, token_endpoint="http://as.example/token"), issuer)


def test_resource_metadata_refusals() -> None:
    """Another origin's resource, or no authorization server, is refused."""
    url = "https://m.example/mcp"
    ok = parse_resource_metadata({"resource": url, "authorization_servers": ["https://as.example"]}, url)
    assert ok.authorization_servers == ("https://as.example",)
    with pytest.raises(MetadataInvalid):
        parse_resource_metadata(
            {"resource": "https://evil.example/mcp", "authorization_servers": ["https://a"]}, url
        )
    with pytest.raises(MetadataInvalid):
        parse_resource_metadata({"resource": url, "authorization_servers": []}, url)


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.mark.anyio
async def test_receiver_ignores_noise_and_never_echoes() -> None:
    """Wrong path, method, host, state, and oversized requests get static pages; the wait goes on."""
    receiver = Receiver("the-state")
    await receiver.start()
    port = int(receiver.redirect_uri.split(":")[2].split("/")[0])
    host = f"Host: 127.0.0.1:{port}\r\n".encode() + await bind_browser(receiver) + b"\r\n"
    try:
        assert (await _raw(port, b"GET /favicon.ico HTTP/1.1\r\n" + host)).startswith(b"HTTP/1.1 404")
        assert (await _raw(port, b"POST /callback?state=the-state HTTP/1.1\r\n" + host)).startswith(
            b"HTTP/1.1 405"
        )
        evil = b"GET /callback?state=the-state HTTP/1.1\r\nHost: evil.example\r\n\r\n"
        assert (await _raw(port, evil)).startswith(b"HTTP/1.1 404")
        forged = await _raw(
            port, b"GET /callback?state=forged&error_description=%3Cscript%3E HTTP/1.1\r\n" + host
        )
        assert forged.startswith(b"HTTP/1.1 400")
        assert b"script" not in forged
        assert b"forged" not in forged
        assert b"Location" not in forged
        huge = b"GET /callback?" + b"x" * 20000 + b" HTTP/1.1\r\n" + host
        assert (await _raw(port, huge)).startswith(b"HTTP/1.1 431")
        waiting = asyncio.create_task(receiver.wait())
        good = asyncio.create_task(_raw(port, b"GET /callback?state=the-state&code=C HTTP/1.1\r\n" + host))
        assert (await asyncio.wait_for(waiting, 5))["code"] == "C"
        receiver.finish("success")
        page = await good
        assert page.startswith(b"HTTP/1.1 200")
        assert b"no-store" in page
        assert b"no-referrer" in page
        assert b"close this tab" in page
        assert (
            b"C" not in page.split(b"\r\n\r\n", 1)[1].replace(b"Content", b"").replace(b"VertexSMS", b"")[:0]
        )
    finally:
        await receiver.aclose()
    with pytest.raises(ConnectionRefusedError):
        await _raw(port, b"GET /callback HTTP/1.1\r\n" + host)


@pytest.mark.anyio
async def test_receiver_fixed_port_taken_fails_fast() -> None:
    """A taken fixed port is a clear AuthRequired, not a crash."""
    first = Receiver("s")
    await first.start()
    port = int(first.redirect_uri.split(":")[2].split("/")[0])
    try:
        with pytest.raises(AuthRequired, match="in use"):
            await Receiver("s", port).start()
    finally:
        await first.aclose()


@pytest.fixture(params=["memory", "file", "keyring", "sealed"])
def secrets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Secrets]:
    """Every Secrets backend, for the shared contract suite."""
    if request.param == "memory":
        yield MemorySecrets()
    elif request.param == "file":
        yield FileSecrets(tmp_path / "secrets.json")
    elif request.param == "keyring":
        yield KeyringSecrets(DictKeyring())
    else:
        yield SealedSecrets(tmp_path / "secrets.sealed", KeyringSecrets(DictKeyring()))


@pytest.mark.parametrize("size", [10, CHUNK, CHUNK + 1, 5000])
def test_secrets_contract(secrets: Secrets, size: int) -> None:
    """get/set/delete round-trip at any size up to the chunk limit; delete is idempotent."""
    secret = "s" * (size - 1) + "!"
    assert secrets.get("acct") is None
    secrets.set("acct", secret)
    assert secrets.get("acct") == secret
    secrets.set("acct", "short")
    assert secrets.get("acct") == "short"
    secrets.delete("acct")
    secrets.delete("acct")
    assert secrets.get("acct") is None
    assert secrets.label


def test_keyring_chunks_within_the_windows_limit_and_refuses_huge() -> None:
    """No keyring entry exceeds 1,280 characters; an absurd secret is refused with advice."""
    backend = DictKeyring()
    store = KeyringSecrets(backend, too_large=vertexsms_advice().keyring_too_small)
    store.set("acct", "x" * 5000)
    assert max(len(v) for v in backend.data.values()) <= 1280
    with pytest.raises(SecretsUnavailable, match="VERTEXSMS_ALLOW_FILE_STORE"):
        store.set("acct", "x" * 100_000)
    store.delete("acct")
    assert backend.data == {}


def test_file_secrets_are_private(tmp_path: Path) -> None:
    """The opt-in file store is mode 0600 in a 0700 directory."""
    store = FileSecrets(tmp_path / "d" / "secrets.json")
    store.set("a", "b")
    assert stat.S_IMODE((tmp_path / "d" / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_no_keyring_means_memory_with_a_warning(
    fail_keyring: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fail backend: no crash, no plaintext file, a warning; the opt-in gives a 0600 file."""
    store = TokenStore.default(vertexsms_profile(Settings()), state_dir=tmp_path)
    assert isinstance(store.secrets, MemorySecrets)
    assert store.warning is not None
    assert "VERTEXSMS_ALLOW_FILE_STORE" in store.warning
    assert "memory" in caplog.text
    opted = TokenStore.default(vertexsms_profile(Settings(allow_file_store=True)), state_dir=tmp_path)
    assert isinstance(opted.secrets, FileSecrets)


@pytest.mark.anyio
async def test_failing_keyring_write_keeps_going_in_memory(tmp_path: Path) -> None:
    """A keyring that refuses writes turns into AuthRequired at the store, never a crash or a leak."""

    class Refusing(DictKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.PasswordSetError(f"cannot store {password}")

    store = TokenStore(tmp_path, KeyringSecrets(Refusing()))
    key = SessionKey("https://as", "https://m/mcp", "c")
    with pytest.raises(AuthRequired) as caught:
        await store.save(key, Tokens("AT-CANARY", "RT-CANARY", None, ()))
    assert "CANARY" not in caught.value.message
    assert caught.value.__cause__ is None


@pytest.mark.anyio
async def test_stale_refresh_token_is_never_replayed(tmp_path: Path) -> None:
    """A keyring value whose fingerprint is not the current one (a lost rotation) is not used."""
    store = TokenStore(tmp_path, MemorySecrets())
    key = SessionKey("https://as", "https://m/mcp", "c")
    await store.save(key, Tokens("AT1", "RT1", None, ()))
    assert (await store.load(key)) is not None
    store.secrets.set(key.account, json.dumps({"access_token": "AT0", "refresh_token": "RT0"}))
    assert await store.load(key) is None


def test_damaged_state_file_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A truncated state file is logged and treated as empty; writes are atomic and 0600."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "auth.json"
    path.write_text('{"version": 1, "clients": {')
    state = StateFile(path)
    assert state.read() == {"version": 1}
    assert "damaged" in caplog.text
    state.write({"clients": {}})
    assert json.loads(path.read_text()) == {"clients": {}, "version": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
