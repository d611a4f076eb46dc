"""The token store seam: one secret store + the state file + locks, keyed by issuer/resource/client.

``TokenStore.default(profile)`` picks the OS keyring when it is usable (holding only the key of
an AES-GCM sealed file in the state directory, ``sealed.py``); otherwise the opt-in
0600 file (``SignInProfile.allow_file_store``), otherwise memory for this process with a warning.
A profile with a ``namespace`` gets its own folder under the state directory and its own keyring
service, so several servers keep separate sign-ins.
Secrets are written before the sign-in is used; the state file records a fingerprint of the
current refresh token so that a keyring value left behind by a failed write is never replayed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.redact import register_secret
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.core import Tokens, fingerprint
from vertex_stdio.oauth.storage.secrets import (
    SERVICE,
    FileSecrets,
    KeyringSecrets,
    MemorySecrets,
    Secrets,
    SecretsUnavailable,
    keyring_problem,
    os_keyring,
)
from vertex_stdio.oauth.storage.state import STATE_FILE, FileLock, Lock, State, StateFile, default_state_dir

if TYPE_CHECKING:  # loaded where used: a token kept in the private file needs neither
    from vertex_stdio.oauth.protocol.metadata import Client, Target

log = logging.getLogger(__name__)

SECRETS_TIMEOUT = 5.0
SEALED_FILE = "secrets.sealed"
PLAIN_FILE = "secrets.json"
STATE_LOCK_TIMEOUT = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class SessionKey:
    """Which sign-in: the issuer, the resource (RFC 8707) and the client id."""

    issuer: str
    resource: str
    client_id: str

    @property
    def account(self) -> str:
        """The keyring account name."""
        return f"{self.issuer} {self.resource} {self.client_id}"


@dataclass(frozen=True)
class SessionRecord:
    """What the state file says about one stored sign-in (never a secret)."""

    key: SessionKey
    scopes: tuple[str, ...] = ()
    access_expires_at: float | None = None
    has_refresh_token: bool = False
    refresh_fingerprint: str | None = None
    store: str | None = None
    """The label of the secret store the sign-in was saved to."""

    @classmethod
    def from_state(cls, entry: Mapping[str, Any]) -> SessionRecord | None:
        """The record for one ``sessions`` entry, or None when it lacks its key (hand-edited, damaged)."""
        ids = [entry.get(name) for name in ("issuer", "resource", "client_id")]
        issuer, resource, client_id = (value if isinstance(value, str) else None for value in ids)
        if issuer is None or resource is None or client_id is None:
            return None
        scopes, expires = entry.get("scopes"), entry.get("access_expires_at")
        fingerprint_, store = entry.get("refresh_fingerprint"), entry.get("store")
        return cls(
            key=SessionKey(issuer, resource, client_id),
            scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
            access_expires_at=float(expires) if isinstance(expires, int | float) else None,
            has_refresh_token=entry.get("has_refresh_token") is True,
            refresh_fingerprint=fingerprint_ if isinstance(fingerprint_, str) else None,
            store=store if isinstance(store, str) else None,
        )


@dataclass(frozen=True)
class CachedTarget:
    """Discovery's result for one resource URL, kept in the state file, and when it was fetched."""

    target: Target
    fetched_at: float

    def to_state(self) -> dict[str, Any]:
        return {
            "resource": self.target.resource,
            "resource_scopes": list(self.target.resource_scopes),
            "server": self.target.server.to_json(),
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_state(cls, entry: Mapping[str, Any]) -> CachedTarget:
        """Raises ``KeyError``, ``TypeError``, ``ValueError`` or ``MetadataInvalid`` when damaged."""
        from vertex_stdio.oauth.protocol.metadata import ServerMetadata, Target

        server = ServerMetadata.from_json(entry["server"])
        scopes = tuple(str(s) for s in entry.get("resource_scopes", ()))
        target = Target(str(entry["resource"]), server, scopes)
        return cls(target, float(entry.get("fetched_at", 0)))


class TokenStore:
    """Secrets (keyring/file/memory) plus non-secret state and locks under ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        secrets: Secrets,
        *,
        warning: str | None = None,
        file_store_setting: str | None = None,
        allow_file_store: str | None = None,
        state: State | None = None,
        locks: Callable[[str, float], Lock] | None = None,
    ) -> None:
        """``state`` and ``locks`` default to ``auth.json`` and lock files under ``state_dir``;
        their memory twins (``state.MemoryState``, ``state.MemoryLocks``) keep nothing on disk."""
        self.state_dir = state_dir
        self.secrets = secrets
        self.warning = warning
        self._file_store_setting = file_store_setting
        self._allow_file_store = allow_file_store or (
            f"set {file_store_setting}=1" if file_store_setting else None
        )
        self._state: State = state if state is not None else StateFile(state_dir / STATE_FILE)
        self._locks = locks

    @classmethod
    def default(cls, profile: SignInProfile, state_dir: Path | None = None) -> TokenStore:
        """The keyring if usable, else the opt-in file, else memory (warned on stderr via logging)."""
        state_dir = namespaced(state_dir or default_state_dir(), profile.namespace)
        setting, allow = profile.advice.file_store_setting, profile.advice.allow_file_store
        problem = keyring_problem(os_keyring())
        if problem is None:
            from vertex_stdio.oauth.storage.sealed import SealedSecrets

            service = SERVICE if profile.namespace is None else f"{SERVICE}/{profile.namespace}"
            key_store = KeyringSecrets(service=service, too_large=profile.advice.keyring_too_small)
            sealed = SealedSecrets(state_dir / SEALED_FILE, key_store)
            return cls(state_dir, sealed, file_store_setting=setting, allow_file_store=allow)
        if profile.allow_file_store:
            warning = f"{problem}; keeping the sign-in in a private file as {setting} allows"
            log.warning(warning)
            return cls.in_file(profile, state_dir, warning=warning)
        warning = (
            f"{problem}; the sign-in is kept in memory for this process only. "
            f"{allow[:1].upper()}{allow[1:]} to keep it in a private 0600 file instead."
        )
        log.warning(warning)
        return cls(
            state_dir, MemorySecrets(), warning=warning, file_store_setting=setting, allow_file_store=allow
        )

    @classmethod
    def in_file(cls, profile: SignInProfile, state_dir: Path, *, warning: str | None = None) -> TokenStore:
        """The opt-in 0600 file store under ``state_dir`` (already namespaced); no keyring is asked."""
        advice = profile.advice
        return cls(
            state_dir,
            FileSecrets(state_dir / PLAIN_FILE),
            warning=warning,
            file_store_setting=advice.file_store_setting,
            allow_file_store=advice.allow_file_store,
        )

    def lock(self, name: str, timeout: float) -> Lock:
        """A cross-process lock named ``name`` under the state directory."""
        if self._locks is not None:
            return self._locks(name, timeout)
        return FileLock(self.state_dir / f"{name}.lock", timeout)

    def read_state(self) -> dict[str, Any]:
        """The non-secret state (a fresh dict; cheap, no lock)."""
        return self._state.read()

    def client(self, issuer: str) -> Client | None:
        """The client registered at ``issuer`` (only a registration that issuer made), or None."""
        from vertex_stdio.oauth.protocol.metadata import Client

        return Client.from_state(self.read_state().get("clients", {}).get(issuer), issuer)

    async def keep_client(self, client: Client) -> None:
        """Remember a registration for its issuer."""
        entry = client.to_json()
        await self.update_state(lambda data: data.setdefault("clients", {}).__setitem__(client.issuer, entry))

    def cached_target(self, url: str) -> CachedTarget | None:
        """Discovery's cached result for ``url``, or None; raises as ``CachedTarget.from_state`` when damaged."""
        entry = self.read_state().get("metadata", {}).get(url)
        return CachedTarget.from_state(entry) if isinstance(entry, dict) else None

    async def cache_target(self, url: str, cached: CachedTarget) -> None:
        entry = cached.to_state()
        await self.update_state(lambda data: data.setdefault("metadata", {}).__setitem__(url, entry))

    async def forget_target(self, url: str) -> None:
        await self.update_state(lambda data: data.get("metadata", {}).pop(url, None))

    def sessions(self) -> dict[str, SessionRecord]:
        """The stored sign-ins by account, as typed records; damaged entries are left out."""
        found = (SessionRecord.from_state(v) for v in self.read_state().get("sessions", {}).values())
        return {record.key.account: record for record in found if record is not None}

    def state_stamp(self) -> tuple[int, int, int] | None:
        """A cheap stamp of the state file (one ``stat``): it changes whenever any process writes it."""
        return self._state.stamp()

    def write_state(self, data: dict[str, Any]) -> None:
        """Replace the state; hold ``lock("state")`` around read-modify-write."""
        self._state.write(data)

    async def update_state(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Read, ``change`` in place and write the state under the state lock."""
        async with self.lock("state", STATE_LOCK_TIMEOUT):
            data = self.read_state()
            change(data)
            self.write_state(data)

    async def load(self, key: SessionKey) -> Tokens | None:
        """The stored token set for ``key``, or None (also when its fingerprint is stale).

        A fingerprint that does not match may mean a save is between its two writes (the state,
        then the secret): the state lock, which a save holds across both, is waited for and the
        store read once more before the stored token set is called out of date.
        """
        tokens, current = await self._load_once(key)
        if tokens is not None and not current:
            async with self.lock("state", STATE_LOCK_TIMEOUT):
                tokens, current = await self._load_once(key)
        if tokens is not None and not current:
            log.warning("the stored sign-in is out of date or damaged; a new sign-in is needed")
            return None
        return tokens

    async def _load_once(self, key: SessionKey) -> tuple[Tokens | None, bool]:
        raw = await self._secret(self.secrets.get, key.account)
        tokens = _decode(raw) if raw else None
        if tokens is None:
            if raw:
                log.warning("the stored sign-in is damaged; a new sign-in is needed")
            return None, True
        remember_secrets(tokens)
        record = self.sessions().get(key.account)
        expected = record.refresh_fingerprint if record is not None else None
        return tokens, not tokens.refresh_token or expected == fingerprint(tokens.refresh_token)

    async def save(self, key: SessionKey, tokens: Tokens, *, signed_in: bool = False) -> None:
        """Record the new refresh token's fingerprint, then store the secret (both before use).

        Both writes happen under the state lock, so ``load`` never mistakes a save in progress
        for an out-of-date sign-in.
        """

        def change(data: dict[str, Any]) -> None:
            session = data.setdefault("sessions", {}).setdefault(key.account, {})
            session.update(
                issuer=key.issuer,
                resource=key.resource,
                client_id=key.client_id,
                scopes=list(tokens.scopes),
                access_expires_at=tokens.expires_at,
                has_refresh_token=tokens.refresh_token is not None,
                refresh_fingerprint=fingerprint(tokens.refresh_token) if tokens.refresh_token else None,
                store=self.secrets.label,
            )

        async with self.lock("state", STATE_LOCK_TIMEOUT):
            data = self.read_state()
            change(data)
            self.write_state(data)
            await self._secret(self.secrets.set, key.account, _encode(tokens))

    async def save_secret(self, account: str, secret: str) -> None:
        """Keep one more secret (a registered client's) beside the sign-ins."""
        register_secret(secret)
        await self._secret(self.secrets.set, account, secret)

    async def load_secret(self, account: str) -> str | None:
        """A secret kept by ``save_secret``, or None."""
        secret = await self._secret(self.secrets.get, account)
        register_secret(secret)
        return secret

    async def forget_secret(self, account: str) -> None:
        """Delete a secret kept by ``save_secret``; safe when there is none."""
        await self._secret(self.secrets.delete, account)

    async def clear(self, key: SessionKey) -> None:
        """Forget the sign-in for ``key`` (secret and state); safe when there is none."""
        await self._secret(self.secrets.delete, key.account)
        await self.update_state(lambda data: data.get("sessions", {}).pop(key.account, None))

    async def _secret(self, call: Callable[..., T], *args: str) -> T:
        try:
            return await asyncio.wait_for(asyncio.to_thread(call, *args), SECRETS_TIMEOUT)
        except TimeoutError:
            allow = self._allow_file_store
            instead = f", or {allow} to keep the sign-in in a private file" if allow else ""
            raise AuthRequired(
                "The OS keyring did not answer (it may be waiting for you to unlock it). Unlock it and "
                f"try again{instead}."
            ) from None
        except SecretsUnavailable as exc:
            raise AuthRequired(f"{exc} Then try again.") from None


def namespaced(state_dir: Path, namespace: str | None) -> Path:
    """The state folder of ``namespace``: the state directory itself for None, else a subfolder."""
    return state_dir if namespace is None else state_dir / "servers" / namespace


def remember_secrets(tokens: Tokens | None) -> None:
    """Register both tokens for redaction from every log line and tool error from now on."""
    if tokens is not None:
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)


def _encode(tokens: Tokens) -> str:
    return json.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "issued_at": tokens.issued_at,
            "scopes": list(tokens.scopes),
        },
        separators=(",", ":"),
    )


def _decode(raw: str) -> Tokens | None:
    try:
        data = json.loads(raw)
        access, refresh = data["access_token"], data.get("refresh_token")
        expires, scopes = data.get("expires_at"), data.get("scopes") or []
        issued = data.get("issued_at")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(access, str) or not (refresh is None or isinstance(refresh, str)):
        return None
    if not all(t is None or (isinstance(t, int | float) and math.isfinite(t)) for t in (expires, issued)):
        return None
    return Tokens(
        access,
        refresh,
        float(expires) if expires is not None else None,
        tuple(map(str, scopes)),
        issued_at=float(issued) if issued is not None else None,
    )
