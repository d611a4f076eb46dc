"""Reads and writes of one file descriptor from the event loop, with no thread hop per message.

A pipe or a socket (what a desktop client gives) is put in non-blocking mode and read or
written directly, waiting on the loop when it is not ready; its blocking mode is restored
on ``close()``.  A regular file never blocks for long, so it is read and written directly.
Everything else runs each read or write on a worker thread, as the SDK's own transport
does: a terminal (its blocking mode is shared with the shell, which a killed process could
not give back; and a person types slower than a thread hop), Windows (whose loops poll only
sockets), and a descriptor the selector refuses.  Writes are unbuffered: once
``write()`` returns, the bytes are the kernel's (nothing waits on a flush).

``claimed_stdin()`` / ``claimed_stdout()`` give the wire a private descriptor while fd 0 points
at the null device and fd 1 at stderr, so a stray read, print or child process misses it.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

log = logging.getLogger(__name__)

_T = TypeVar("_T")


async def batches(queued: MemoryObjectReceiveStream[_T], most: int = 64) -> AsyncIterator[list[_T]]:
    """What ``queued`` holds, up to ``most`` items at a time (one write each), until its senders
    have closed and it is empty.  Items still queued when the senders close are all yielded."""
    async with queued:
        async for first in queued:
            batch = [first]
            with suppress(anyio.WouldBlock, anyio.EndOfStream):  # EndOfStream: closed, now empty
                while len(batch) < most:
                    batch.append(queued.receive_nowait())
            yield batch


class FdPipe:
    """One descriptor, read or written whole-chunk from async code (see the module's docstring)."""

    def __init__(self, fd: int, *, name: str) -> None:
        self.fd = fd
        self._name = name
        self._restore_blocking: bool | None = None
        self._threaded = sys.platform == "win32"
        self._direct = False  # a regular file: plain os.read/os.write on the loop
        if self._threaded:
            return
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISREG(mode):
                self._direct = True
            elif not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                self._threaded = True
            elif os.get_blocking(fd):
                os.set_blocking(fd, False)
                self._restore_blocking = True
        except OSError as exc:
            log.debug("%s: cannot poll fd %d (%s); using a worker thread", name, fd, exc)
            self._threaded = True

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` at end of input."""
        while not self._threaded:
            try:
                return os.read(self.fd, size)
            except BlockingIOError:
                pass
            if self._direct:
                raise AssertionError("a regular file does not block")  # pragma: no cover
            if not await self._waited(anyio.wait_readable):
                break
        return await anyio.to_thread.run_sync(os.read, self.fd, size, abandon_on_cancel=True)

    async def write(self, data: bytes) -> None:
        """All of ``data``; raises ``OSError`` (e.g. ``BrokenPipeError``) when the reader is gone."""
        view = memoryview(data)
        while view:
            if self._threaded:
                written = await anyio.to_thread.run_sync(os.write, self.fd, view)
            else:
                try:
                    written = os.write(self.fd, view)
                except BlockingIOError:
                    await self._waited(anyio.wait_writable)
                    continue
            view = view[written:]

    async def _waited(self, wait: Callable[[int], Awaitable[None]]) -> bool:
        """Wait on the loop until ready; False (now threaded, blocking again) if it cannot."""
        try:
            await wait(self.fd)
        except (OSError, NotImplementedError, ValueError) as exc:
            log.debug(
                "%s: the event loop cannot wait on fd %d (%s); using a worker thread",
                self._name,
                self.fd,
                exc,
            )
            self._threaded = True
            self._unset_nonblocking()
            return False
        return True

    def _unset_nonblocking(self) -> None:
        if self._restore_blocking:
            try:
                os.set_blocking(self.fd, True)
            except OSError:
                return
            self._restore_blocking = None

    def close(self) -> None:
        """Give the descriptor back in the blocking mode it had (it is not closed)."""
        self._unset_nonblocking()


@contextmanager
def claimed_stdin() -> Iterator[int]:
    """A private descriptor for the wire, with fd 0 on the null device meanwhile.

    So a child process or a stray read sees end of input instead of stealing protocol bytes.
    The private descriptor is not closed: an abandoned reader thread may still be blocked on it.
    """
    with _claimed(0, lambda: os.open(os.devnull, os.O_RDONLY)) as fd:
        yield fd


@contextmanager
def claimed_stdout() -> Iterator[int]:
    """A private descriptor for the wire, with fd 1 on stderr meanwhile (stray prints miss the wire)."""
    with _claimed(1, lambda: os.dup(2)) as fd:
        yield fd


@contextmanager
def _claimed(fd: int, diversion: Callable[[], int]) -> Iterator[int]:
    try:
        private = os.dup(fd)
    except OSError:
        yield fd
        return
    diverted = False
    with suppress(OSError):
        stand_in = diversion()
        try:
            os.dup2(stand_in, fd)
            diverted = True
        finally:
            os.close(stand_in)
    _rebind_windows_handle(fd)
    try:
        yield private
    finally:
        if diverted:
            with suppress(OSError):
                os.dup2(private, fd)
            _rebind_windows_handle(fd)


def _rebind_windows_handle(fd: int) -> None:
    """On Windows the C runtime's fd and the OS's standard handle are separate: keep them one."""
    if sys.platform == "win32":  # pragma: no cover
        from mcp.os.win32.utilities import rebind_std_handle_to_fd

        with suppress(OSError):
            rebind_std_handle_to_fd(fd)
