"""Issue 10: the rotating token set lives AES-GCM sealed in a 0600 file; the keyring holds one small key.

A counting in-memory keyring backend shows what reaches the OS keyring; real files hold the rest;
real processes share the file keyring backend of the multi-process tests.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import keyring.backend
import pytest
from keyring.errors import PasswordDeleteError
from oauth_server.filekeyring import FileKeyring
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect
from oauth_server.helpers import make, run_children

from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.sealed import KEY_ACCOUNT, SealedSecrets
from vertex_stdio.oauth.storage.secrets import KeyringSecrets
from vertex_stdio.oauth.storage.store import SEALED_FILE, SessionKey

pytest_plugins = ["oauth_server.fixtures"]

TESTS = Path(__file__).resolve().parents[3] / "tests" / "support"
EXPIRES = time.time() + 3600
KEY = SessionKey("https://as.example", "https://mcp.example/mcp", "client-1")


class CountingKeyring(keyring.backend.KeyringBackend):
    """An in-memory backend that counts writes (what resets macOS's "Always Allow")."""

    priority = -2  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.writes += 1
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("missing")
        self.writes += 1


def sealed_store(state: Path, backend: CountingKeyring) -> TokenStore:
    return TokenStore(state, SealedSecrets(state / SEALED_FILE, KeyringSecrets(backend)))


def rotated(n: int) -> Tokens:
    return Tokens(f"AT-CANARY-{n:04d}-" + "a" * 900, f"RT-CANARY-{n:04d}", EXPIRES, ("sms:send",))


@pytest.mark.anyio
async def test_rotation_writes_the_file_never_the_keyring(tmp_path: Path) -> None:
    """Ten saves (a sign-in and nine rotations): one keyring write in all, a 44-character key."""
    backend = CountingKeyring()
    store = sealed_store(tmp_path, backend)
    for n in range(10):
        await store.save(KEY, rotated(n))
    loaded = await store.load(KEY)
    assert loaded == rotated(9)
    assert backend.writes == 1
    assert list(backend.data) == [("vertex-stdio", KEY_ACCOUNT)]
    assert len(backend.data[("vertex-stdio", KEY_ACCOUNT)]) == 44
    sealed = tmp_path / SEALED_FILE
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    assert "CANARY" not in sealed.read_text()
    fresh = sealed_store(tmp_path, backend)  # another process: reads the key once, writes nothing
    assert await fresh.load(KEY) == rotated(9)
    assert backend.writes == 1


@pytest.mark.anyio
async def test_a_sign_in_kept_in_the_keyring_migrates_without_signing_in_again(tmp_path: Path) -> None:
    """A token set stored by the previous version (in the keyring itself) is moved into the file."""
    backend = CountingKeyring()
    old = TokenStore(tmp_path, KeyringSecrets(backend))
    await old.save(KEY, rotated(1))
    new = sealed_store(tmp_path, backend)
    assert await new.load(KEY) == rotated(1)
    assert KEY.account not in {user for _, user in backend.data}  # gone from the keyring
    assert (tmp_path / SEALED_FILE).exists()
    assert await sealed_store(tmp_path, backend).load(KEY) == rotated(1)


@pytest.mark.anyio
async def test_logout_removes_every_copy_and_a_reset_key_means_sign_in_again(tmp_path: Path) -> None:
    """``clear`` leaves no sealed file; a keyring whose key was removed reads as signed out."""
    backend = CountingKeyring()
    store = sealed_store(tmp_path, backend)
    await store.save(KEY, rotated(1))
    backend.data.clear()  # the person reset their keychain
    assert await sealed_store(tmp_path, backend).load(KEY) is None
    await store.save(KEY, rotated(2))
    await store.clear(KEY)
    assert not (tmp_path / SEALED_FILE).exists()
    assert not list(tmp_path.glob(f".{SEALED_FILE}.tmp-*"))


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))
async def test_four_processes_refresh_once_and_the_keyring_holds_only_the_key(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real processes on the sealed store: one refresh at the AS; the keyring keeps one small entry."""
    keyring_file = tmp_path / "keyring.json"
    monkeypatch.setenv("TEST_KEYRING_FILE", str(keyring_file))
    state_dir = tmp_path / "shared-state"
    mcp_url = protect(resource, as_server.issuer)
    store = TokenStore(state_dir, SealedSecrets(state_dir / SEALED_FILE, KeyringSecrets(FileKeyring())))
    provider = make(mcp_url, tmp_path, store=store)
    try:
        first = await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    client_id = next(iter(store.read_state()["clients"].values()))["client_id"]
    results = run_children(4, state_dir, mcp_url, CHILD_SEALED="1", CHILD_CLOCK_OFFSET="3600")
    assert all(r.startswith("OK ") for r in results), results
    assert len(set(results)) == 1
    assert len(as_server.journal("grant", grant_type="refresh_token", client_id=client_id)) == 1
    entries = json.loads(keyring_file.read_text())
    assert list(entries) == [f"vertex-stdio\0{KEY_ACCOUNT}"]
    assert first not in keyring_file.read_text()
