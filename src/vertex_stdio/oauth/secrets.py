"""Where the secret (the token set) lives: the OS keyring, an opt-in 0600 file, or memory.

Every backend implements ``Secrets`` (get / set / delete, plus a ``label`` for ``status``);
the same contract suite runs against each.  Calls are blocking: the caller runs them in a
worker thread with a timeout.  Foreign errors become ``SecretsUnavailable``, whose message
never contains the secret.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import keyring
import keyring.backend
import keyring.errors

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


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically (temp file + ``os.replace``) with mode 0600, in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileSecrets:
    """A 0600 JSON file under the state directory: only when the person opted in."""

    persistent = True

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def label(self) -> str:
        return f"file ({self._path})"

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning(
                "the secret file %s is unreadable (%s); starting over", self._path, type(exc).__name__
            )
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}

    def get(self, account: str) -> str | None:
        return self._read().get(account)

    def set(self, account: str, secret: str) -> None:
        data = self._read()
        data[account] = secret
        write_private(self._path, json.dumps(data))

    def delete(self, account: str) -> None:
        data = self._read()
        if data.pop(account, None) is not None:
            write_private(self._path, json.dumps(data))


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
        self._backend = backend or keyring.get_keyring()
        self._service = service
        self._too_large = too_large

    @property
    def label(self) -> str:
        return f"keyring ({type(self._backend).__name__})"

    def get(self, account: str) -> str | None:
        head = self._call(self._backend.get_password, account)
        if head is None or not head.startswith(_HEAD):
            return head
        count = int(head[len(_HEAD) :]) if head[len(_HEAD) :].isdigit() else 0
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
        head = self._call(self._backend.get_password, account)
        count = (
            int(head[len(_HEAD) :]) if head and head.startswith(_HEAD) and head[len(_HEAD) :].isdigit() else 0
        )
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
        try:
            result = method(self._service, account, *args)
        except keyring.errors.KeyringLocked:
            raise SecretsUnavailable("The keyring is locked; unlock it and try again.") from None
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise SecretsUnavailable(f"The keyring cannot be used ({type(exc).__name__}).") from None
        return result if isinstance(result, str) else None
