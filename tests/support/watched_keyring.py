"""A keyring that writes down every use, and the one ordered log it writes to.

``WatchedKeyring`` is a real keyring backend (the plug-in mechanism keyring documents: select it
with ``PYTHON_KEYRING_BACKEND=watched_keyring.WatchedKeyring``, this folder on ``PYTHONPATH``).  It
keeps secrets as ``os_keyring.FileOsKeyring`` does (in ``$TEST_KEYRING_FILE``, with a real
keyring's priority, so the product keeps its sign-ins "in the keyring") and, for each time keyring
opens it and each ``get``/``set``/``delete``, appends one line to ``$TEST_KEYRING_WATCH``: the
operation, service and username, the process id and a sequence number -- never the secret.

``Watch`` is that file, shared by every process: the test writes its own marks into it
(``mark("tools/list answered")``) and a loopback server its connections (``note``), so one
sequence orders what the product did against what the test saw.  Writes take an exclusive lock,
so the sequence numbers are dense and in the order the writes happened.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from os_keyring import FileOsKeyring

WATCH_FILE = "TEST_KEYRING_WATCH"


class Watch:
    """The ordered log at ``path`` (one JSON object a line, ``seq`` from 1)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, kind: str, **fields: Any) -> int:
        """Append one event of ``kind`` (with ``fields``, no secret); returns its sequence number."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq = len(self.events()) + 1
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"seq": seq, "kind": kind, "pid": os.getpid(), **fields}) + "\n")
            return seq

    def mark(self, what: str) -> int:
        """The test's own mark: what it saw happen, at this point of the sequence."""
        return self.note("mark", what=what)

    def events(
        self, kind: str | None = None, *, after: int = 0, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The events so far, of ``kind`` when given, with ``after < seq < before``."""
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
        return [
            row
            for row in rows
            if (kind is None or row["kind"] == kind)
            and row["seq"] > after
            and (before is None or row["seq"] < before)
        ]


class WatchedKeyring(FileOsKeyring):
    """``FileOsKeyring`` that writes each opening and each use to ``$TEST_KEYRING_WATCH``."""

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
