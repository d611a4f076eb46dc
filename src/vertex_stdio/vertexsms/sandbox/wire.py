"""The outermost ASGI layer: journal every request, then apply an armed ``Fault``.

Pure ASGI (not Starlette responses) because faults need what a response object cannot
do: answer nothing and close (``drop``), send headers then stall, or trickle the body.
Closing a connection without a response needs the server's transport; uvicorn's h11
``send`` is a bound method of an object holding it, which is the one uvicorn detail this
module leans on (if it is missing, a dropped request gets uvicorn's bare 500 instead).
Every wait here ends when ``Stopper`` fires, so ``Emulator.stop()`` is never held up.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vertex_stdio.vertexsms.sandbox.faults import Fault, FaultBook, Journal, Seen

_CHUNK = 64 * 1024


class Stopper:
    """A stop signal that other threads can raise and the server's loop can await."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        """Attach to the running loop (call once, from the server's thread)."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Thread-safe: wake every waiter; a no-op before ``bind`` or after the loop closed."""
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed meanwhile: nothing is waiting any more
            return

    async def wait(self, seconds: float | None) -> bool:
        """Sleep up to ``seconds`` (None: until stopped); True when stopped meanwhile."""
        if self._event is None:
            raise RuntimeError("Stopper.bind() was not called on the server loop")
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        return True


class FaultLayer:
    """Records each HTTP request in the journal, then serves it normally or as faulted."""

    def __init__(self, app: ASGIApp, journal: Journal, faults: FaultBook, stopper: Stopper) -> None:
        self.app = app
        self.journal = journal
        self.faults = faults
        self.stopper = stopper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        fault = self.faults.take(scope["method"], scope["path"])
        self.journal.record(_seen(scope, body, fault))
        replay = _replaying(body, receive)
        if fault is None:
            await self.app(scope, replay, send)
        else:
            await self._faulted(fault, scope, replay, receive, send)

    async def _faulted(
        self, fault: Fault, scope: Scope, replay: Receive, receive: Receive, send: Send
    ) -> None:
        if fault.delay > 0 and await self.stopper.wait(fault.delay):
            await _drop(receive, send)
            return
        if fault.drop:
            await _drop(receive, send)
            return
        if fault.drop_after_processing:
            await _capture(self.app, scope, replay)
            await _drop(receive, send)
            return
        if not fault.reshapes:
            await self.app(scope, replay, send)
            return
        status, headers, body = await self._response(fault, scope, replay)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        length = fault.body_size if fault.body_size is not None else len(body)
        headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if fault.silence_after_headers:
            await self._stall(receive, send)
        elif fault.drip_bytes_per_s is not None:
            await self._drip(body, fault.drip_bytes_per_s, receive, send)
        elif fault.body_size is not None:
            await _stream_filler(fault.body_size, send)
        else:
            await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _response(
        self, fault: Fault, scope: Scope, replay: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The response to deliver: the fault's own, or the real one with the fault's edits."""
        if fault.status is not None or fault.body is not None or fault.body_size is not None:
            status = fault.status or 200
            body = fault.body if fault.body is not None else _default_body(status)
            headers = [(b"content-type", b"application/json")]
        else:
            status, headers, body = await _capture(self.app, scope, replay)
        extra = {k.lower().encode(): v.encode() for k, v in fault.headers.items()}
        headers = [(k, v) for k, v in headers if k.lower() not in extra] + list(extra.items())
        return status, headers, body

    async def _stall(self, receive: Receive, send: Send) -> None:
        """Say nothing more until the client hangs up or the emulator stops."""
        client_gone = asyncio.ensure_future(_until_disconnect(receive))
        stopped = asyncio.ensure_future(self.stopper.wait(None))
        try:
            await asyncio.wait({client_gone, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client_gone.cancel()
            stopped.cancel()
        await _drop(receive, send)

    async def _drip(self, body: bytes, rate: float, receive: Receive, send: Send) -> None:
        """Send ``body`` a few bytes at a time so that it takes ``len(body) / rate`` seconds."""
        step = max(1, int(rate * 0.1))
        for start in range(0, len(body), step):
            chunk = body[start : start + step]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if await self.stopper.wait(len(chunk) / rate):
                await _drop(receive, send)
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _seen(scope: Scope, body: bytes, fault: Fault | None) -> Seen:
    headers: dict[str, str] = {}
    for raw_key, raw_value in scope.get("headers", []):
        key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    return Seen(scope["method"], scope["path"], query, headers, body, time.monotonic(), fault)


def _default_body(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return b'{"message": "' + phrase.encode() + b'"}'


async def _capture(
    app: ASGIApp, scope: Scope, receive: Receive
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the real app into memory (its answers are small and complete, never streams)."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return int(start.get("status", 500)), list(start.get("headers", [])), b"".join(chunks)


async def _stream_filler(size: int, send: Send) -> None:
    """A huge body without holding it in memory."""
    block = b"x" * _CHUNK
    remaining = size
    while remaining > 0:
        piece = block[: min(_CHUNK, remaining)]
        remaining -= len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": remaining > 0})
    if size == 0:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without (more of) a response."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise ConnectionAbortedError("sandbox fault: connection dropped")  # uvicorn answers 500
    transport.close()
    try:
        # let the server see the disconnect, so it does not answer for us
        await asyncio.wait_for(_until_disconnect(receive), 1.0)
    except TimeoutError:
        return
