"""A file-backed keyring backend for multi-process tests (selected with PYTHON_KEYRING_BACKEND).

Stores secrets in ``$TEST_KEYRING_FILE`` (JSON) under an flock, so separate processes share it.
Test-only: it is a plaintext file, which is why the product never picks such a backend itself.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = -2  # type: ignore[assignment]  # never auto-selected; only by PYTHON_KEYRING_BACKEND

    def _path(self) -> Path:
        return Path(os.environ["TEST_KEYRING_FILE"])

    def _update(self, change: object = None) -> dict[str, str]:
        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(path.read_text()) if path.exists() else {}
            if callable(change):
                change(data)
                path.write_text(json.dumps(data))
            return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._update().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._update(lambda d: d.__setitem__(f"{service}\0{username}", password))

    def delete_password(self, service: str, username: str) -> None:
        key = f"{service}\0{username}"
        if key not in self._update():
            raise PasswordDeleteError("not found")
        self._update(lambda d: d.pop(key, None))
