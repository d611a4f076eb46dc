"""``Emulator``: the REST API and hosted MCP server on a loopback port, from a background thread.

The socket is bound in ``start()`` (so a taken port fails there and then), served by
uvicorn on the thread's own asyncio loop, and closed by ``stop()``, which first wakes
every fault that is stalling so shutdown never waits on one.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vertex_stdio.vertexsms.sandbox.book import Book, MemoryBook, SqliteBook, unusable
from vertex_stdio.vertexsms.sandbox.faults import Fault, FaultBook, Journal, Seen
from vertex_stdio.vertexsms.sandbox.hosted import METADATA_PATH, build_hosted, metadata_endpoint
from vertex_stdio.vertexsms.sandbox.rest import RestApi, api_error
from vertex_stdio.vertexsms.sandbox.state import ALL_SCOPES, SANDBOX_TOKEN, ApiError, SandboxState, TokenCheck
from vertex_stdio.vertexsms.sandbox.wire import FaultLayer, Stopper

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class Emulator:
    """A VertexSMS emulator: REST at ``api_url``, hosted MCP at ``mcp_url``.

    ``tokens`` maps each accepted token to its scopes (default: ``SANDBOX_TOKEN`` with
    ``ALL_SCOPES``); ``token_check`` may resolve other tokens (return their scopes, or None
    to reject) and runs on a worker thread.  ``authorization_servers`` is advertised in the
    protected-resource metadata.  Usable as a context manager (start / stop).
    """

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]] | None = None,
        port: int = 0,
        authorization_servers: Iterable[str] = (),
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        book_file: Path | None = None,
    ) -> None:
        self._state = SandboxState(
            {SANDBOX_TOKEN: ALL_SCOPES} if tokens is None else tokens,
            authorization_servers,
        )
        self._book_file = book_file
        self._port = port
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._journal = Journal()
        self._faults = FaultBook()
        self._stopper = Stopper()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._base_url: str | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after ``start()``)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    @property
    def mcp_url(self) -> str:
        """``http://127.0.0.1:PORT/mcp`` (after ``start()``)."""
        return self.api_url + "/mcp"

    @property
    def port(self) -> int:
        return int(self.api_url.rsplit(":", 1)[1])

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        """Accept ``token`` with ``scopes`` from now on (replaces its earlier scopes)."""
        self._state.add_token(token, scopes)

    def remove_token(self, token: str) -> None:
        """Reject ``token`` from now on (no error when it was unknown)."""
        self._state.remove_token(token)

    @property
    def token_check(self) -> TokenCheck | None:
        return self._state.token_check

    @token_check.setter
    def token_check(self, check: TokenCheck | None) -> None:
        self._state.token_check = check

    # -- journal and faults ----------------------------------------------------------------

    @property
    def journal(self) -> list[Seen]:
        """Every request received so far (a snapshot), faulted ones included."""
        return self._journal.snapshot()

    def journal_for(self, method: str, path: str) -> list[Seen]:
        """The journal entries for ``method path`` (trailing slashes ignored)."""
        probe = Fault(method=method, path=path)
        return [seen for seen in self.journal if probe.matches(seen.method, seen.path)]

    def clear_journal(self) -> None:
        self._journal.clear()

    def inject(self, fault: Fault) -> None:
        """Arm ``fault`` for the next ``fault.times`` matching requests."""
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind 127.0.0.1:port and serve from a background thread; return once it answers."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets (no 40 ms stalls)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((LOOPBACK, self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._base_url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
        self._stopper = Stopper()
        self._failure = None
        if self._book_file is not None:
            self._state.book = _open_book(self._book_file)
        config = uvicorn.Config(
            self._app(self._base_url),
            log_config=None,
            access_log=False,
            http="h11",
            ws="none",
            lifespan="on",
            proxy_headers=False,
            timeout_graceful_shutdown=max(1, int(self._stop_timeout / 2)),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name="vertex-sandbox", daemon=True
        )
        self._thread.start()
        self._wait_started()
        log.info("VertexSMS sandbox emulator listening on %s", self._base_url)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # noqa: BLE001 - handed to start()/stop() on the caller's thread
            self._failure = exc
        finally:
            sock.close()

    def _wait_started(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        server, thread = self._server, self._thread
        if server is None or thread is None:
            raise RuntimeError("the emulator is not running")
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                failure = self._failure
                self.stop()
                raise RuntimeError("the sandbox emulator did not start") from failure
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut down promptly (stalled faults are cut off) and join the thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopper.fire()
        server.should_exit = True
        thread.join(self._stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(self._stop_timeout)
        if thread.is_alive():
            log.error("the sandbox emulator thread did not stop within %.0f s", 2 * self._stop_timeout)
        elif self._book_file is not None:
            self._state.book.close()
        self._server, self._thread = None, None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _app(self, base_url: str) -> ASGIApp:
        """REST routes + metadata + gated ``/mcp``, under the journal-and-fault layer."""
        mcp_app, run_sessions = build_hosted(self._state, base_url)
        stopper = self._stopper
        metadata = metadata_endpoint(self._state, base_url)

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            stopper.bind()
            async with run_sessions():
                yield

        routes = [
            *RestApi(self._state).routes(),
            Route(METADATA_PATH, metadata),
            Route(METADATA_PATH + "/mcp", metadata),
        ]
        handlers = {ApiError: api_error, HTTPException: api_error}
        rest = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
        return FaultLayer(_McpSplit(rest, mcp_app), self._journal, self._faults, stopper)


def _open_book(path: Path | None) -> Book:
    """The file's book, or memory when there is no file or it cannot be used (said in the log)."""
    if path is None:
        return MemoryBook()
    try:
        return SqliteBook(path)
    except (OSError, sqlite3.Error, ApiError) as exc:  # ApiError: SQLite's, translated
        why = exc.message if isinstance(exc, ApiError) else unusable(path, exc)
        log.warning("%s Until then this sandbox forgets its messages and senders when it exits.", why)
        return MemoryBook()


class _McpSplit:
    """Sends ``/mcp`` to the MCP app and everything else (lifespan included) to REST."""

    def __init__(self, rest: ASGIApp, mcp: ASGIApp) -> None:
        self.rest = rest
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ("/mcp", "/mcp/"):
            await self.mcp(scope, receive, send)
        else:
            await self.rest(scope, receive, send)
