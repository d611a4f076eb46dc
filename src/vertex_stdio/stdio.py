"""The stdio transport: the SDK's own, behind a stdin reader that answers bad input.

mcp 2.3 drops a stdin line it cannot parse without answering it (python-sdk #2751), so the
client waits for its own timeout, and it reads a line of any length into memory.
``serve_stdio`` reads stdin itself instead: each line is bounded (``MAX_LINE_BYTES``; the
rest of a longer one is skipped, never held), and must be UTF-8 text holding one JSON-RPC
2.0 message.  A line that is not gets a JSON-RPC error (-32700 parse error or -32600
invalid request, with the request's ``id`` when it can be read, else ``null``) and goes no
further.  Good lines reach the SDK unchanged, and stdout is still written by the SDK alone
(fd 1 points at stderr meanwhile), so the wire stays one JSON-RPC message per line.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer, Server
from mcp.server.models import InitializationOptions
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError, JSONRPCNotification, RequestId, jsonrpc_message_adapter

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 4 * 1024 * 1024
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Rejected:
    """A stdin line that is not passed on, and what the JSON-RPC error answering it says."""

    code: int
    message: str
    id: RequestId | None = None

    def error(self) -> JSONRPCError:
        return JSONRPCError(jsonrpc="2.0", id=self.id, error=ErrorData(code=self.code, message=self.message))


class LineSplitter:
    """Bytes in, whole lines out; a line longer than ``limit`` becomes one ``Rejected``. Pure."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside an oversized line: drop bytes up to its newline

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        out: list[bytes | Rejected] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            if not self._skipping:
                self._buffer += data[start:end]
                if len(self._buffer) > self._limit:
                    self._buffer.clear()
                    self._skipping = True
                    out.append(_oversized(self._limit))
            if newline < 0:
                return out
            if not self._skipping:
                out.append(bytes(self._buffer))
            self._buffer.clear()
            self._skipping = False
            start = newline + 1

    def end(self) -> list[bytes | Rejected]:
        """At end of input: the last line, if it had no newline."""
        line, skipped = bytes(self._buffer), self._skipping
        self._buffer.clear()
        return [line] if line and not skipped else []


def _oversized(limit: int) -> Rejected:
    return Rejected(
        INVALID_REQUEST,
        f"Invalid Request: the message is longer than {limit // 1_048_576} MiB and was discarded.",
    )


def check_line(line: bytes) -> str | Rejected | None:
    """The line as text for the SDK, the reason it is refused, or None for a blank line."""
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError:
        guess = _parsed(line.decode("utf-8", errors="replace"))
        return Rejected(PARSE_ERROR, "Parse error: the message is not valid UTF-8.", _id_of(guess))
    if not text:
        return None
    try:
        message = jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError:  # pydantic's ValidationError is a ValueError
        pass
    else:
        # The SDK reads a request whose id is neither a string nor a number as a notification
        # (never answered); JSON-RPC calls it an invalid request.
        if isinstance(message, JSONRPCNotification) and '"id"' in text and "id" in (_parsed(text) or {}):
            return Rejected(INVALID_REQUEST, "Invalid Request: the id must be a string or an integer.")
        return text
    parsed = _parsed(text)
    if parsed is None:
        return Rejected(PARSE_ERROR, "Parse error: the message is not JSON.")
    if isinstance(parsed, list):
        return Rejected(
            INVALID_REQUEST, "Invalid Request: batches are not supported; send one message per line."
        )
    return Rejected(INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message.", _id_of(parsed))


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _id_of(message: Any) -> RequestId | None:
    """The message's id, when it is one a response can carry (a string or an integer)."""
    found = message.get("id") if isinstance(message, dict) else None
    if isinstance(found, str) or (isinstance(found, int) and not isinstance(found, bool)):
        return found
    return None


class GuardedStdin:
    """The lines the SDK's stdio transport reads: only good ones; the rest go to ``rejects``."""

    def __init__(
        self, fd: int, rejects: MemoryObjectSendStream[Rejected], limit: int = MAX_LINE_BYTES
    ) -> None:
        self._fd = fd
        self._rejects = rejects
        self._splitter = LineSplitter(limit)
        self._ready: deque[str] = deque()
        self._eof = False

    def __aiter__(self) -> GuardedStdin:
        return self

    async def __anext__(self) -> str:
        while not self._ready:
            if self._eof:
                self._rejects.close()
                raise StopAsyncIteration
            chunk = await self._read()
            self._eof = not chunk
            for item in self._splitter.feed(chunk) if chunk else self._splitter.end():
                checked = item if isinstance(item, Rejected) else check_line(item)
                if isinstance(checked, Rejected):
                    log.warning("stdin: %s (answered with JSON-RPC error %d)", checked.message, checked.code)
                    with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                        await self._rejects.send(checked)
                elif checked is not None:
                    self._ready.append(checked)
        return self._ready.popleft()

    async def _read(self) -> bytes:
        try:
            return await anyio.to_thread.run_sync(os.read, self._fd, _CHUNK, abandon_on_cancel=True)
        except OSError as exc:
            log.warning("stdin could not be read (%s); treating it as closed", exc)
            return b""


async def _answer_rejects(
    rejects: MemoryObjectReceiveStream[Rejected], out: WriteStream[SessionMessage]
) -> None:
    async with rejects:
        async for rejected in rejects:
            try:
                await out.send(SessionMessage(rejected.error()))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return


@contextmanager
def _claimed_stdin() -> Iterator[int]:
    """A private descriptor for the wire, with fd 0 on the null device meanwhile.

    So a child process or a stray read sees end of input instead of stealing protocol bytes
    (what the SDK does when it reads stdin itself).  The private descriptor is not closed:
    an abandoned reader thread may still be blocked on it.
    """
    try:
        private = os.dup(0)
    except OSError:
        yield 0
        return
    diverted = False
    with suppress(OSError):
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
            diverted = True
        finally:
            os.close(null)
    try:
        yield private
    finally:
        if diverted:
            with suppress(OSError):
                os.dup2(private, 0)


async def serve_stdio(
    server: MCPServer[Any] | Server[Any],
    *,
    limit: int = MAX_LINE_BYTES,
    options: InitializationOptions | None = None,
) -> None:
    """Serve ``server`` over stdin/stdout until stdin closes, answering malformed input.

    ``options`` replaces what ``initialize`` answers (``connect`` answers with the remote's words).
    """
    # What MCPServer.run_stdio_async runs; mcp 2.3 offers no public way to pass our stdin.
    lowlevel = server._lowlevel_server if isinstance(server, MCPServer) else server
    rejects_in, rejects_out = anyio.create_memory_object_stream[Rejected](64)
    with _claimed_stdin() as fd:
        stdin = cast("anyio.AsyncFile[str]", GuardedStdin(fd, rejects_in, limit))  # the SDK only iterates it
        async with stdio_server(stdin=stdin) as (read_stream, write_stream), anyio.create_task_group() as tg:
            tg.start_soon(_answer_rejects, rejects_out, write_stream)
            await lowlevel.run(read_stream, write_stream, options or lowlevel.create_initialization_options())
            tg.cancel_scope.deadline = anyio.current_time() + 1.0  # answer the last bad lines, briefly
