"""Pins on the sealed store and the keyring: a fresh nonce per seal, entries bound to their account,
a key replaced while a process runs, and a corrupt chunk count refused without millions of reads."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keyring.backend
import pytest
from keyring.errors import PasswordDeleteError
from oauth_server.filekeyring import FileKeyring

from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.sealed import KEY_ACCOUNT, NONCE_BYTES, SealedSecrets
from vertex_stdio.oauth.storage.secrets import MAX_CHUNKS, KeyringSecrets
from vertex_stdio.oauth.storage.store import SEALED_FILE, SessionKey

SUPPORT = Path(__file__).resolve().parents[2] / "support"
KEY = SessionKey("https://as.example", "https://mcp.example/mcp", "client-1")
EXPIRES = time.time() + 3600


class ReadCountingKeyring(keyring.backend.KeyringBackend):
    """An in-memory backend that counts every read and delete."""

    priority = -2  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}
        self.reads = 0
        self.deletes = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.deletes += 1
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("missing")


def _entries(path: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(path.read_text())
    return data


def test_every_seal_has_a_fresh_nonce(tmp_path: Path) -> None:
    """The same secret sealed twice (and under two accounts) never repeats a nonce or a ciphertext."""
    path = tmp_path / SEALED_FILE
    store = SealedSecrets(path, KeyringSecrets(ReadCountingKeyring()))
    seen: list[bytes] = []
    for account in ("a", "a", "b", "a"):
        store.set(account, "the same secret")
        seen.append(base64.b64decode(_entries(path)[account]))
    nonces = [raw[:NONCE_BYTES] for raw in seen]
    assert len(set(nonces)) == len(nonces)
    assert len({raw[NONCE_BYTES:] for raw in seen}) == len(seen)
    assert store.get("a") == "the same secret"


def test_an_entry_opened_under_another_accounts_name_fails(tmp_path: Path) -> None:
    """Each entry is sealed with its account name as associated data: copied to another account's
    name in the file, it does not open (so one sign-in cannot be passed off as another)."""
    path = tmp_path / SEALED_FILE
    store = SealedSecrets(path, KeyringSecrets(ReadCountingKeyring()))
    store.set(KEY.account, "issuer A's tokens")
    store.set("https://other.example x y", "issuer B's tokens")
    entries = _entries(path)
    entries["https://other.example x y"] = entries[KEY.account]
    path.write_text(json.dumps(entries))
    assert store.get("https://other.example x y") is None
    assert store.get(KEY.account) == "issuer A's tokens"


def _tokens(n: int) -> Tokens:
    return Tokens(f"AT-{n:04d}-" + "a" * 40, f"RT-{n:04d}-" + "b" * 20, EXPIRES, ("sms:send",))


def _store(state: Path) -> TokenStore:
    return TokenStore(state, SealedSecrets(state / SEALED_FILE, KeyringSecrets(FileKeyring())))


_CHILD = """
import asyncio, sys
from pathlib import Path
from oauth_server.filekeyring import FileKeyring
from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import KeyringSecrets
from vertex_stdio.oauth.storage.store import SEALED_FILE, SessionKey

state = Path(sys.argv[1])
store = TokenStore(state, SealedSecrets(state / SEALED_FILE, KeyringSecrets(FileKeyring())))
tokens = asyncio.run(store.load(SessionKey(*sys.argv[2:5])))
print("OK " + tokens.refresh_token if tokens is not None else "SIGN-IN NEEDED")
"""


def _another_process_reads(state: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), str(SUPPORT.parents[1] / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(state), KEY.issuer, KEY.resource, KEY.client_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_key_replaced_while_a_process_runs_is_used_for_its_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running process sealed with key 1; the keychain is reset and another process signs in
    with a new key 2.  The running process reads that sign-in (its key read again after the
    failed decrypt) and its next rotation is sealed with key 2, so a new process opens it
    without a browser sign-in."""
    keyring_file = tmp_path / "keyring.json"
    monkeypatch.setenv("TEST_KEYRING_FILE", str(keyring_file))
    state = tmp_path / "state"
    running = _store(state)
    await running.save(KEY, _tokens(1))
    assert _another_process_reads(state) == "OK " + str(_tokens(1).refresh_token)
    first_key = json.loads(keyring_file.read_text())[f"vertex-stdio\0{KEY_ACCOUNT}"]

    keyring_file.write_text("{}")  # the person reset their keychain
    await _store(state).save(KEY, _tokens(2))  # another process signed in: it made key 2
    second_key = json.loads(keyring_file.read_text())[f"vertex-stdio\0{KEY_ACCOUNT}"]
    assert second_key != first_key

    assert await running.load(KEY) == _tokens(2)
    await running.save(KEY, _tokens(3))  # a refresh-token rotation in the running process
    assert _another_process_reads(state) == "OK " + str(_tokens(3).refresh_token)
    assert json.loads(keyring_file.read_text())[f"vertex-stdio\0{KEY_ACCOUNT}"] == second_key


def test_a_corrupt_chunk_count_is_refused_without_reading_each_chunk() -> None:
    """A keyring head claiming 10^7 chunks is corrupt: one read to refuse it, a bounded delete."""
    backend = ReadCountingKeyring()
    backend.data[("vertex-stdio", "acct")] = "vertex-stdio-chunks:10000000"
    store = KeyringSecrets(backend)
    assert store.get("acct") is None
    assert backend.reads == 1
    store.delete("acct")
    assert backend.deletes <= MAX_CHUNKS + 1
    assert backend.data == {}
    backend.data[("vertex-stdio", "acct")] = "vertex-stdio-chunks:" + "9" * 5000  # int() would choke
    assert store.get("acct") is None


def test_a_sane_chunk_count_is_still_read() -> None:
    """Guard for the bound above: a secret of MAX_CHUNKS chunks round-trips."""
    backend = ReadCountingKeyring()
    store = KeyringSecrets(backend)
    secret = "x" * (1200 * MAX_CHUNKS)
    store.set("acct", secret)
    assert store.get("acct") == secret
