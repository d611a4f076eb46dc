"""Bounding idle connections to a loopback listener, so a flood cannot use up its descriptors.

Each connection that has not sent its request head costs a file descriptor for as long as its
read timeout.  A flood of them (400 under ``ulimit -n 256``) would leave none to accept the
browser's redirect, and none for the token request that follows it.

``IdleConnections`` keeps them bounded: beyond ``MAX_IDLE``, each new connection closes the
oldest that has waited ``IDLE_GRACE`` or more; and the listener (``listener.LoopbackListener``)
holds at most ``cap`` connections in all, drawn from the descriptor limit (``connection_cap``),
shedding the oldest idle one whatever its age to accept another.  A connection whose bytes have
arrived but were not read yet is never closed; a browser sends its request as soon as it
connects, and retries on a new connection when one it opened ahead (a preconnect) is closed
before it sent anything.
"""

from __future__ import annotations

import asyncio
import sys

MAX_IDLE = 32
IDLE_GRACE = 0.25
BACKLOG = 100  # the kernel's listen queue (costs no descriptor: accepting is bounded by the cap)
RESERVE = 64  # descriptors left for the process itself: files, locks, the token request


def connection_cap(limit: int | None) -> int:
    """At most this many connections held at once by one listener, under a descriptor ``limit``
    (half of what ``RESERVE`` leaves, so two listeners and the rest of the process fit)."""
    if limit is None or limit <= 0:
        return 4 * MAX_IDLE
    return max(8, min(4 * MAX_IDLE, (limit - RESERVE) // 2))


def descriptor_limit() -> int | None:
    """This process's soft ``RLIMIT_NOFILE`` (None where there is none, or it is unlimited)."""
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def _has_unread_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """True when the peer sent something not read yet: in the reader's buffer or the kernel's."""
    if getattr(reader, "_buffer", None):  # asyncio's StreamReader keeps what it received there
        return True
    sock = writer.get_extra_info("socket")
    if sock is None or sys.platform == "win32":
        return False
    import fcntl
    import termios

    try:
        queued = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return False
    return int.from_bytes(queued, sys.byteorder) > 0


class IdleConnections:
    """The connections waiting for their request head, oldest first (see the module doc)."""

    def __init__(self, limit: int | None = None) -> None:
        self.cap = connection_cap(descriptor_limit() if limit is None else limit)
        self._waiting: dict[asyncio.StreamWriter, tuple[float, asyncio.StreamReader]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def arrived(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Count a new connection as idle, then close the oldest idle ones beyond ``MAX_IDLE``
        that have waited ``IDLE_GRACE`` or more."""
        now = asyncio.get_running_loop().time()
        self._waiting[writer] = (now, reader)
        for other, (since, other_reader) in list(self._waiting.items()):
            if len(self._waiting) <= MAX_IDLE or now - since < IDLE_GRACE:
                break
            if other is not writer and not _has_unread_bytes(other_reader, other):
                self._shed(other)

    def shed_oldest(self) -> bool:
        """Close the oldest idle connection that has sent nothing, whatever its age (False: none)."""
        for other, (_, other_reader) in list(self._waiting.items()):
            if not _has_unread_bytes(other_reader, other):
                self._shed(other)
                return True
        return False

    def _shed(self, writer: asyncio.StreamWriter) -> None:
        del self._waiting[writer]
        writer.transport.abort()  # its descriptor is freed on the loop's next turn; its handler ends

    def spoke(self, writer: asyncio.StreamWriter) -> None:
        """``writer``'s connection sent its head (or ended): no longer idle."""
        self._waiting.pop(writer, None)

    def drop_all(self) -> None:
        """Close every idle connection now."""
        for writer in list(self._waiting):
            writer.transport.abort()
        self._waiting.clear()
