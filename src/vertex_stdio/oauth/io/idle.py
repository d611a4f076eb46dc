"""Bounding idle connections to a loopback listener, so a flood cannot use up its descriptors.

Each connection that has not sent its request head costs a file descriptor for as long as its
read timeout.  A flood of them (400 under ``ulimit -n 256``) would leave none to accept the
browser's redirect, and none for the token request that follows it; once ``accept`` runs out
(``EMFILE``) asyncio pauses it, and the genuine connection starves in the listen backlog.

``IdleConnections`` keeps the count bounded: beyond ``MAX_IDLE``, each new connection closes
the oldest that has waited ``IDLE_GRACE`` or more; beyond a hard cap drawn from the descriptor
limit (``idle_cap``), the oldest whatever its age, so one accept batch always has room (were
``accept`` to run out of descriptors, asyncio would pause it for a second at a time and the
redirect would wait in the listen backlog behind the flood).  A connection whose bytes have
arrived but were not read yet is never closed; a browser sends its request as soon as it
connects, and retries on a new connection when one it opened ahead (a preconnect) is closed
before it sent anything.
"""

from __future__ import annotations

import asyncio
import sys

MAX_IDLE = 32
IDLE_GRACE = 0.25
ACCEPT_BATCH = 100  # asyncio accepts up to the listen backlog at once, before any handler runs
RESERVE = 64  # descriptors left for the process itself: files, locks, the token request


def idle_cap(limit: int | None) -> int:
    """At most this many idle connections, whatever their age, under a descriptor ``limit``."""
    if limit is None or limit <= 0:
        return 4 * MAX_IDLE
    return max(8, min(4 * MAX_IDLE, (limit - ACCEPT_BATCH - RESERVE) // 2))


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
        self.cap = idle_cap(descriptor_limit() if limit is None else limit)
        self._waiting: dict[asyncio.StreamWriter, tuple[float, asyncio.StreamReader]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def arrived(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Count a new connection as idle, then close the idle ones beyond the bounds."""
        now = asyncio.get_running_loop().time()
        self._waiting[writer] = (now, reader)
        for other, (since, other_reader) in list(self._waiting.items()):
            over = len(self._waiting) - min(MAX_IDLE, self.cap)
            if over <= 0 or (now - since < IDLE_GRACE and len(self._waiting) <= self.cap):
                break
            if other is writer or _has_unread_bytes(other_reader, other):
                continue
            del self._waiting[other]
            other.transport.abort()  # frees its descriptor now; its handler ends on the EOF

    def spoke(self, writer: asyncio.StreamWriter) -> None:
        """``writer``'s connection sent its head (or ended): no longer idle."""
        self._waiting.pop(writer, None)

    def drop_all(self) -> None:
        """Close every idle connection now."""
        for writer in list(self._waiting):
            writer.transport.abort()
        self._waiting.clear()
