"""A loopback listener that never accepts more connections than this process has descriptors for.

asyncio's own server accepts its whole listen backlog in one go, before any handler has run.
Under a flood of idle connections that ran this process out of descriptors (``EMFILE``), and
asyncio then stops accepting for a second at a time: the listen queue stayed full, the
browser's connection was dropped there again and again (the kernel retries a lost SYN after 1,
3, 7, 15 s), and under load the sign-in's redirect timed out behind the flood.

Here accepting is ours.  Before each ``accept`` fewer than ``cap`` connections are held (accepted
and not yet closed): at the cap the oldest idle connection is shed (``idle.IdleConnections``) and
accepting waits until a connection has really closed, so ``accept`` never runs out of
descriptors and never stops for long.  Should something else in the process use them up,
accepting resumes after ``RETRY`` instead of asyncio's second.

Contract: ``start`` binds 127.0.0.1 (``OSError`` as ``socket.bind`` raises it); every accepted
connection is handed to ``handle(reader, writer)`` in its own task, counted idle until the
handler calls ``idle.spoke``; the connection is closed when the handler returns.  ``close`` stops
accepting (the port closes at once) and drops the idle connections; ``aclose`` also waits up to a
second for the handlers still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable

from vertex_stdio.oauth.io.idle import BACKLOG, IdleConnections

log = logging.getLogger(__name__)

RETRY = 0.1  # seconds before accepting again after the process ran out of descriptors elsewhere
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LoopbackListener:
    """Accepts on 127.0.0.1 within ``idle.cap`` connections held at once (see the module doc)."""

    def __init__(self, handle: Handler, *, limit: int, idle: IdleConnections | None = None) -> None:
        """``limit``: the stream readers' buffer limit (the largest request head)."""
        self._handle = handle
        self._limit = limit
        self.idle = idle if idle is not None else IdleConnections()
        self.held = 0
        self.peak = 0  # the most connections held at once (never above ``idle.cap``)
        self.port = 0
        self._sock: socket.socket | None = None
        self._reading = False
        self._making_room = False
        self._serving: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._sock is not None

    async def start(self, port: int = 0, *, reuse_address: bool = False) -> None:
        """Bind 127.0.0.1:``port`` (0: any free port, then read ``port``) and start accepting."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._resume()

    def close(self) -> None:
        """Stop accepting (the port closes now) and close every idle connection."""
        if self._sock is not None:
            self._pause()
            self._sock.close()
            self._sock = None
        self.idle.drop_all()

    async def aclose(self) -> None:
        """``close``, then wait up to a second for the handlers still running."""
        self.close()
        if self._serving:
            await asyncio.wait(set(self._serving), timeout=1.0)

    async def read_head(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The request head, up to its blank line (``asyncio.LimitOverrunError`` past ``limit``).
        The connection stops counting as idle in the same step: one whose head was read is never
        shed."""
        try:
            return await reader.readuntil(b"\r\n\r\n")
        finally:
            self.idle.spoke(writer)

    def _resume(self) -> None:
        if self._sock is not None and not self._reading:
            asyncio.get_running_loop().add_reader(self._sock.fileno(), self._accept)
            self._reading = True

    def _pause(self) -> None:
        if self._sock is not None and self._reading:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._reading = False

    def _accept(self) -> None:
        """Accept what is waiting, up to the cap; at the cap shed one idle connection and wait."""
        loop = asyncio.get_running_loop()
        while self._sock is not None:
            if self.held >= self.idle.cap:
                self._make_room()
                self._pause()
                return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.warning("no descriptor left to accept a connection (%s); retrying", exc.strerror)
                    self._pause()
                    loop.call_later(RETRY, self._resume)
                    return
                continue  # ECONNABORTED and the like: that connection is gone, not the listener
            conn.setblocking(False)
            self.held += 1
            self.peak = max(self.peak, self.held)
            task = loop.create_task(self._serve(conn))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            try:
                reader, writer = await asyncio.open_connection(sock=conn, limit=self._limit)
            except OSError:
                conn.close()
                return
            self.idle.arrived(reader, writer)
            self._make_room()
            try:
                await self._handle(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                log.debug("a connection to the loopback listener ended early")
            except Exception:  # a task's error would otherwise be logged only at exit, if at all
                log.exception("the loopback listener's handler failed")
            finally:
                self.idle.spoke(writer)
                writer.close()
                with contextlib.suppress(Exception):  # an aborted connection ends with its error
                    await writer.wait_closed()
        finally:
            self._released()

    def _make_room(self) -> None:
        """At the cap, shed the oldest idle connection (whatever its age), one at a time: its
        close frees a place (``_released``) on a later turn of the loop."""
        if self.held >= self.idle.cap and not self._making_room:
            self._making_room = self.idle.shed_oldest()

    def _released(self) -> None:
        """A held connection has closed (its descriptor is free): accepting may go on."""
        self.held -= 1
        self._making_room = False
        if self.held < self.idle.cap:
            self._resume()
