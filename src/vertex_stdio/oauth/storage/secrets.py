"""Where the secret (the token set) lives: the OS keyring, an opt-in 0600 file, or memory.

Every backend implements ``Secrets`` (get / set / delete, plus a ``label`` for ``status``);
the same contract suite runs against each.  Calls are blocking: the caller runs them in a
worker thread with a timeout.  Foreign errors become ``SecretsUnavailable``, whose message
never contains the secret.  ``keyring`` (~14 ms to import, with its ``importlib_metadata``) is
imported where a keyring is asked, never by the file and memory stores.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vertex_stdio.core.privatefs import UnsafePath, read_private, remove_private, write_private
from vertex_stdio.oauth.storage.state import FileLock, LockTimeout

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

SERVICE = "vertex-stdio"
CHUNK = 1200
"""Characters per keyring entry: Windows Credential Manager stores at most 1,280 (2,560 bytes)."""
MAX_CHUNKS = 16
_HEAD = "vertex-stdio-chunks:"


class SecretsUnavailable(Exception):
    """The secret store cannot be used right now; the message says why and what to do."""


class Secrets(Protocol):
    """A tiny secret store keyed by account name."""

    @property
    def label(self) -> str:
        """Where secrets go, for ``status`` (``keyring (SecretService)``, ``file (...)``, ``memory``)."""

    @property
    def persistent(self) -> bool:
        """False when secrets vanish with this process."""

    def get(self, account: str) -> str | None:
        """The secret, or None when there is none."""

    def set(self, account: str, secret: str) -> None:
        """Store (replace) the secret."""

    def delete(self, account: str) -> None:
        """Remove the secret; no error when there is none."""


class MemorySecrets:
    """Secrets for this process only (the fallback when no keyring is usable, and the test twin)."""

    label = "memory (this process only)"
    persistent = False

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, account: str) -> str | None:
        return self._data.get(account)

    def set(self, account: str, secret: str) -> None:
        self._data[account] = secret

    def delete(self, account: str) -> None:
        self._data.pop(account, None)


class FileSecrets:
    """A 0600 JSON file under the state directory: only when the person opted in.

    Writers take the file's cross-process lock and re-read the file before changing it, so two
    processes saving at once both keep their change; a temp copy left by a killed writer is
    removed by the next write and by ``delete`` (logout).
    """

    persistent = True

    def __init__(self, path: Path, lock_timeout: float = 10.0) -> None:
        self._path = path
        self._lock = FileLock(path.with_name(f"{path.name}.lock"), lock_timeout)

    @property
    def label(self) -> str:
        return f"file ({self._path})"

    def _read(self) -> dict[str, str]:
        try:
            text = read_private(self._path)
            data = json.loads(text) if text is not None else {}
        except UnsafePath as exc:
            raise SecretsUnavailable(str(exc)) from None
        except (OSError, ValueError) as exc:
            log.warning(
                "the secret file %s is unreadable (%s); starting over", self._path, type(exc).__name__
            )
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}

    def get(self, account: str) -> str | None:
        return self._read().get(account)

    def set(self, account: str, secret: str) -> None:
        with self.locked():
            self.put(account, secret)

    def delete(self, account: str) -> None:
        with self.locked():
            self.put(account, None)

    def put(self, account: str, secret: str | None) -> None:
        """Re-read the file, set (or with None remove) one entry, write it back; hold ``locked()``."""
        data = self._read()
        if secret is None:
            data.pop(account, None)
        else:
            data[account] = secret
        if data:
            write_private(self._path, json.dumps(data))
        else:
            remove_private(self._path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The file's cross-process lock (blocking, bounded), for read-modify-write."""
        try:
            with self._lock.held():
                yield
        except LockTimeout:
            raise SecretsUnavailable("Another vertex-stdio process kept the secret file locked.") from None
        except UnsafePath as exc:
            raise SecretsUnavailable(str(exc)) from None


def _chunk_count(head: str | None) -> int:
    """The part count a chunked entry's head names (0 when it is not one, or says nothing sane)."""
    if not head or not head.startswith(_HEAD):
        return 0
    digits = head[len(_HEAD) :]
    return int(digits) if digits.isdigit() and len(digits) <= 9 else MAX_CHUNKS + 1


def os_keyring() -> keyring.backend.KeyringBackend:
    """The keyring's backend for this process (``PYTHON_KEYRING_BACKEND``, its config, else the best
    found); the first call imports ``keyring`` and chooses it."""
    import keyring

    return keyring.get_keyring()


def keyring_problem(backend: keyring.backend.KeyringBackend) -> str | None:
    """Why ``backend`` must not hold secrets (fail, null, plaintext...), or None when it is fine."""
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if "fail" in name.lower() or "null" in name.lower():
        return f"no OS keyring is available ({name})"
    if "plaintext" in name.lower() or "keyrings.alt" in name:
        return f"the keyring backend {name} stores secrets in plain text"
    if getattr(backend, "priority", 0) < 1:
        return f"the keyring backend {name} is not a recommended secure store"
    return None


class KeyringSecrets:
    """The OS keyring (service ``vertex-stdio``, or one per server); secrets over 1,200 characters are chunked."""

    persistent = True

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        service: str = SERVICE,
        *,
        too_large: str = "Keep it in a private file instead.",
    ) -> None:
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        self._backend = backend
        self._service = service
        self._too_large = too_large

    @property
    def label(self) -> str:
        return f"keyring ({type(self._backend).__name__})"

    def get(self, account: str) -> str | None:
        head = self._call(self._backend.get_password, account)
        if head is None or not head.startswith(_HEAD):
            return head
        count = _chunk_count(head)
        if count > MAX_CHUNKS:  # never written by us: refuse it rather than make millions of reads
            log.warning("a chunked secret in the keyring claims %d parts; treating it as corrupt", count)
            return None
        parts = [self._call(self._backend.get_password, f"{account}#{i}") for i in range(count)]
        if not count or any(p is None for p in parts):
            log.warning("a chunked secret in the keyring is incomplete; treating it as absent")
            return None
        return "".join(p or "" for p in parts)

    def set(self, account: str, secret: str) -> None:
        chunks = [secret[i : i + CHUNK] for i in range(0, len(secret), CHUNK)] or [""]
        if len(chunks) > MAX_CHUNKS:
            raise SecretsUnavailable(
                f"The sign-in secret is too large for the keyring ({len(secret)} characters). "
                + self._too_large
            )
        if len(chunks) == 1:
            self._call(self._backend.set_password, account, secret)
            return
        for i, chunk in enumerate(chunks):
            self._call(self._backend.set_password, f"{account}#{i}", chunk)
        self._call(self._backend.set_password, account, f"{_HEAD}{len(chunks)}")

    def delete(self, account: str) -> None:
        import keyring.errors  # loaded with the backend: this costs nothing more

        head = self._call(self._backend.get_password, account)
        count = min(_chunk_count(head), MAX_CHUNKS)  # a corrupt count: only as many as we ever write
        for name in [account, *(f"{account}#{i}" for i in range(count))]:
            try:
                self._backend.delete_password(self._service, name)
            except keyring.errors.PasswordDeleteError:
                continue
            except keyring.errors.KeyringError as exc:
                raise SecretsUnavailable(
                    f"The keyring refused to delete the sign-in ({type(exc).__name__})."
                ) from None

    def _call(self, method: Callable[..., object], account: str, *args: str) -> str | None:
        # `from None` below: a backend's error text could quote what it was given.
        import keyring.errors

        try:
            result = method(self._service, account, *args)
        except keyring.errors.KeyringLocked:
            raise SecretsUnavailable("The keyring is locked; unlock it and try again.") from None
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise SecretsUnavailable(f"The keyring cannot be used ({type(exc).__name__}).") from None
        return result if isinstance(result, str) else None
