"""Non-secret state in one JSON file, and cross-process file locks, under the state directory.

The state file holds registrations (bound to their issuer), cached metadata, granted scopes,
expiry and a fingerprint of the current refresh token; never a token.  It is replaced atomically
with mode 0600; a corrupt or truncated file is logged and treated as empty.  ``FileLock`` is an
OS advisory lock (released by the OS if its holder dies), acquired without blocking the loop.

Each has a memory twin with the same contract (``MemoryState``, ``MemoryLocks``), for one
process that keeps nothing, and for tests; tests/oauth/storage/test_storage_contract.py holds
every backend to the same rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import platformdirs

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.privatefs import UnsafePath, open_private, read_private, write_private

log = logging.getLogger(__name__)

STATE_FILE = "auth.json"
STATE_VERSION = 1


def default_state_dir() -> Path:
    """``platformdirs.user_state_path("vertex-stdio")`` (no version in the path: upgrades keep sign-ins)."""
    return platformdirs.user_state_path("vertex-stdio", appauthor=False)


class State(Protocol):
    """The non-secret state: a JSON object read whole and replaced whole."""

    def read(self) -> dict[str, Any]:
        """A fresh copy of the state (``{"version": 1}`` when there is none)."""

    def write(self, data: dict[str, Any]) -> None:
        """Replace the state with ``data`` (JSON-serialisable)."""

    def stamp(self) -> tuple[int, int, int] | None:
        """Cheap: changes whenever the state is written (by any process sharing it)."""


class Lock(Protocol):
    """An exclusive lock with a wait limit, for async code (``async with``) and threads (``held``)."""

    def try_acquire(self) -> bool: ...
    async def acquire(self) -> None: ...
    def release(self) -> None: ...
    def held(self) -> contextlib.AbstractContextManager[None]: ...
    async def __aenter__(self) -> Lock: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class MemoryState:
    """The state in this process only (kept as JSON text, so every read is a fresh copy)."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._writes = 0

    def read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._text) if self._text else {"version": STATE_VERSION}
        return data

    def write(self, data: dict[str, Any]) -> None:
        data["version"] = STATE_VERSION
        self._text = json.dumps(data, sort_keys=True)
        self._writes += 1

    def stamp(self) -> tuple[int, int, int] | None:
        return (self._writes, len(self._text), 0) if self._text is not None else None


class StateFile:
    """Read and atomically replace ``auth.json``; callers serialise writers with a ``FileLock``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stamp(self) -> tuple[int, int, int] | None:
        """One ``stat``: it changes whenever any process writes the file."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def read(self) -> dict[str, Any]:
        """The state, or an empty state when the file is missing or damaged (with a warning)."""
        try:
            text = read_private(self.path)
            if text is None:
                return {"version": STATE_VERSION}
            data = json.loads(text)
        except UnsafePath as exc:
            raise AuthRequired(str(exc)) from None
        except (OSError, ValueError) as exc:
            log.warning(
                "the sign-in state file %s is damaged (%s); starting over", self.path, type(exc).__name__
            )
            return {"version": STATE_VERSION}
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            log.warning("the sign-in state file %s has an unknown layout; starting over", self.path)
            return {"version": STATE_VERSION}
        return _sane(data, self.path)

    def write(self, data: dict[str, Any]) -> None:
        """Replace the file atomically (mode 0600, directory 0700)."""
        data["version"] = STATE_VERSION
        try:
            write_private(self.path, json.dumps(data, indent=1, sort_keys=True))
        except UnsafePath as exc:
            raise AuthRequired(str(exc)) from None


_TABLES = ("clients", "metadata", "sessions")
"""The state's tables: each maps a name (issuer, URL, account) to a JSON object."""


def _sane(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Drop tables and entries of the wrong shape (a hand-edited or damaged file), with a warning."""
    damaged = False
    for name in _TABLES:
        table = data.get(name, {})
        if not isinstance(table, dict):
            data.pop(name)
            damaged = True
            continue
        for key in [k for k, v in table.items() if not isinstance(v, dict)]:
            del table[key]
            damaged = True
    if damaged:
        log.warning("parts of the sign-in state file %s are damaged; those parts start over", path)
    return data


class LockTimeout(Exception):
    """Another process held the lock for longer than we were willing to wait."""


class _PollingLock:
    """Waiting for a lock by polling ``try_acquire`` (cancellable in async code), up to ``timeout``."""

    def __init__(self, name: str, timeout: float, poll: float = 0.05) -> None:
        self._name = name
        self._timeout = timeout
        self._poll = poll

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def acquire(self) -> None:
        """Wait (polling, cancellable) until the lock is ours; ``LockTimeout`` after ``timeout``."""
        deadline = time.monotonic() + self._timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockTimeout(self._name)
            await asyncio.sleep(self._poll)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock in blocking code (a worker thread): waits up to ``timeout``."""
        deadline = time.monotonic() + self._timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockTimeout(self._name)
            time.sleep(self._poll)
        try:
            yield
        finally:
            self.release()

    async def __aenter__(self) -> _PollingLock:
        await self.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class MemoryLocks:
    """Locks shared by the users of this object in this process: ``locks(name, timeout)``."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def __call__(self, name: str, timeout: float) -> MemoryLock:
        return MemoryLock(name, timeout, self._taken)


class MemoryLock(_PollingLock):
    """One named lock of a ``MemoryLocks``: exclusive among them, never across processes."""

    def __init__(self, name: str, timeout: float, taken: set[str], poll: float = 0.01) -> None:
        super().__init__(name, timeout, poll)
        self._taken = taken
        self._mine = False

    def try_acquire(self) -> bool:
        if self._name in self._taken:
            return False
        self._taken.add(self._name)
        self._mine = True
        return True

    def release(self) -> None:
        if self._mine:
            self._mine = False
            self._taken.discard(self._name)


class FileLock(_PollingLock):
    """An exclusive advisory lock on ``path`` (``fcntl.flock`` / ``msvcrt.locking``)."""

    def __init__(self, path: Path, timeout: float, poll: float = 0.05) -> None:
        super().__init__(str(path), timeout, poll)
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        try:
            fd = open_private(self._path, os.O_RDWR | os.O_CREAT)
        except UnsafePath as exc:
            raise AuthRequired(str(exc)) from None
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock back (closing the descriptor releases it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
