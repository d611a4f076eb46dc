"""A keyring that writes down every use, for tests of the whole process.

``WatchedKeyring`` is a real keyring backend (the plug-in mechanism keyring documents: select it
with ``PYTHON_KEYRING_BACKEND=watched_keyring.WatchedKeyring``, this folder on ``PYTHONPATH``).  It
keeps secrets as ``os_keyring.FileOsKeyring`` does (in ``$TEST_KEYRING_FILE``, with a real
keyring's priority, so the product keeps its sign-ins "in the keyring") and, for each time keyring
opens it and each ``get``/``set``/``delete``, appends one line to the ``watch_log`` named by
``$TEST_KEYRING_WATCH``: the operation, service and username, the process id and a sequence
number -- never the secret.

Only for the product's processes: never import it into the test process (keyring would offer
it to every other test there); without ``$TEST_KEYRING_WATCH`` it is not viable at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from keyring.compat import properties
from os_keyring import FileOsKeyring
from watch_log import WATCH_FILE, Watch


class WatchedKeyring(FileOsKeyring):
    """``FileOsKeyring`` that writes each opening and each use to ``$TEST_KEYRING_WATCH``."""

    @properties.classproperty
    def priority(cls) -> float:
        if WATCH_FILE not in os.environ:
            raise RuntimeError(f"{WATCH_FILE} is not set")  # keyring's way to say "not viable"
        return 5

    def __init__(self) -> None:
        super().__init__()
        self._note("open", "", "")

    def _note(self, op: str, service: str, username: str) -> None:
        Watch(Path(os.environ[WATCH_FILE])).note("keyring", op=op, service=service, username=username)

    def get_password(self, service: str, username: str) -> str | None:
        self._note("get", service, username)
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._note("set", service, username)
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._note("delete", service, username)
        super().delete_password(service, username)
