"""One contract for each storage interface, and every backend held to it.

Secrets (memory, 0600 file, OS keyring with chunking, keyring-key + sealed file), state (the
``auth.json`` file, memory) and locks (file locks, memory locks): a backend that passes here can
stand in for another, which is what lets the token store run on the memory twins in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import keyring.backend
import pytest
from keyring.errors import PasswordDeleteError

from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import FileSecrets, KeyringSecrets, MemorySecrets, Secrets
from vertex_stdio.oauth.storage.state import (
    FileLock,
    Lock,
    LockTimeout,
    MemoryLocks,
    MemoryState,
    State,
    StateFile,
)
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

pytestmark = pytest.mark.anyio


class DictKeyring(keyring.backend.KeyringBackend):
    """An OS keyring stand-in in memory (the real ``KeyringSecrets`` code runs against it)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


SECRETS: dict[str, Callable[[Path], Secrets]] = {
    "memory": lambda tmp: MemorySecrets(),
    "file": lambda tmp: FileSecrets(tmp / "secrets.json"),
    "keyring": lambda tmp: KeyringSecrets(DictKeyring(), "vertex-stdio-test"),
    "sealed": lambda tmp: SealedSecrets(tmp / "secrets.sealed", KeyringSecrets(DictKeyring(), "t")),
}


@pytest.fixture(params=list(SECRETS))
def secrets(request: pytest.FixtureRequest, tmp_path: Path) -> Secrets:
    return SECRETS[request.param](tmp_path)


def test_a_secret_is_kept_replaced_and_deleted(secrets: Secrets) -> None:
    assert secrets.get("alice") is None
    secrets.set("alice", "s1")
    secrets.set("bob", "s2")
    assert (secrets.get("alice"), secrets.get("bob")) == ("s1", "s2")
    secrets.set("alice", "s3")
    assert secrets.get("alice") == "s3"
    secrets.delete("alice")
    assert (secrets.get("alice"), secrets.get("bob")) == (None, "s2")
    secrets.delete("alice")  # deleting what is not there is fine


@pytest.mark.parametrize("size", [1, 1_199, 1_201, 6_000])
def test_any_size_and_text_comes_back_whole(secrets: Secrets, size: int) -> None:
    """Token sets are JSON of 1-6 kB; keyrings cap an entry near 1,200 characters (chunked)."""
    value = ("ä€😀\"'\\ x" * size)[:size]
    secrets.set("an account with spaces https://as.example/ c1", value)
    assert secrets.get("an account with spaces https://as.example/ c1") == value


def test_label_and_persistence_are_declared(secrets: Secrets) -> None:
    assert isinstance(secrets.label, str)
    assert secrets.label
    assert secrets.persistent is (not isinstance(secrets, MemorySecrets))


STATES: dict[str, Callable[[Path], State]] = {
    "file": lambda tmp: StateFile(tmp / "auth.json"),
    "memory": lambda tmp: MemoryState(),
}


@pytest.fixture(params=list(STATES))
def state(request: pytest.FixtureRequest, tmp_path: Path) -> State:
    return STATES[request.param](tmp_path)


def test_state_starts_empty_and_reads_back_what_was_written(state: State) -> None:
    assert state.read() == {"version": 1}
    assert state.stamp() is None
    state.write({"sessions": {"a": {"scopes": ["x"]}}})
    assert state.read() == {"version": 1, "sessions": {"a": {"scopes": ["x"]}}}


def test_each_read_is_a_fresh_copy_and_each_write_a_new_stamp(state: State) -> None:
    state.write({"clients": {}})
    first = state.stamp()
    copy = state.read()
    copy["clients"]["changed"] = {"only": "here"}
    assert state.read() == {"version": 1, "clients": {}}
    state.write({"clients": {"https://as.example": {"client_id": "c1"}, "padding": {}}})
    assert state.stamp() not in (None, first)


LOCKS: dict[str, Callable[[Path], Callable[[str, float], Lock]]] = {
    "file": lambda tmp: lambda name, timeout: FileLock(tmp / f"{name}.lock", timeout, poll=0.01),
    "memory": lambda tmp: MemoryLocks(),
}


@pytest.fixture(params=list(LOCKS))
def locks(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str, float], Lock]:
    return LOCKS[request.param](tmp_path)


async def test_a_lock_is_exclusive_until_released(locks: Callable[[str, float], Lock]) -> None:
    first, second, other = locks("state", 0.05), locks("state", 0.05), locks("refresh", 0.05)
    async with first:
        assert not second.try_acquire()
        assert other.try_acquire()  # another name is another lock
        other.release()
        with pytest.raises(LockTimeout):
            await second.acquire()
    assert second.try_acquire()
    second.release()


def test_a_lock_held_in_a_thread_is_given_back(locks: Callable[[str, float], Lock]) -> None:
    with locks("state", 0.05).held(), pytest.raises(LockTimeout), locks("state", 0.05).held():
        pass
    with locks("state", 0.05).held():
        pass


@pytest.fixture(params=["files", "memory twins"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    if request.param == "files":
        yield TokenStore(tmp_path, FileSecrets(tmp_path / "secrets.json"))
    else:
        yield TokenStore(tmp_path / "unused", MemorySecrets(), state=MemoryState(), locks=MemoryLocks())
        assert not (tmp_path / "unused").exists()  # the twins keep nothing on disk


async def test_the_token_store_gives_typed_records_on_any_backend(store: TokenStore) -> None:
    key = SessionKey("https://as.example", "https://mcp.example/mcp", "c1")
    tokens = Tokens(access_token="at-1", refresh_token="rt-1", expires_at=2_000.0, scopes=("read",))
    await store.save(key, tokens)
    assert await store.load(key) == tokens
    record = store.sessions()[key.account]
    assert (record.key, record.scopes, record.access_expires_at, record.has_refresh_token) == (
        key,
        ("read",),
        2_000.0,
        True,
    )
    await store.clear(key)
    assert (await store.load(key), store.sessions()) == (None, {})


async def test_registrations_and_discovery_come_back_typed(store: TokenStore) -> None:
    from vertex_stdio.oauth.protocol.metadata import Client, ServerMetadata, Target
    from vertex_stdio.oauth.storage.store import CachedTarget

    assert store.client("https://as.example") is None
    await store.keep_client(Client("c1", "https://as.example", "http://127.0.0.1:1/cb"))
    assert store.client("https://as.example") == Client("c1", "https://as.example", "http://127.0.0.1:1/cb")
    assert store.client("https://other.example") is None  # bound to the issuer that issued it
    server = ServerMetadata("https://as.example", "https://as.example/a", "https://as.example/t")
    cached = CachedTarget(Target("https://mcp.example/mcp", server, ("read",)), 1_000.0)
    await store.cache_target("https://mcp.example/mcp", cached)
    assert store.cached_target("https://mcp.example/mcp") == cached
    await store.forget_target("https://mcp.example/mcp")
    assert store.cached_target("https://mcp.example/mcp") is None
