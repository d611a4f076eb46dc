"""A fixed-delay stand-in for the VertexSMS REST API on loopback, run as its own process.

Why not the sandbox emulator: it runs uvicorn and starlette on a thread of the calling
process, so it would share the benchmark client's GIL (its per-request work lands in the
very timings it should stay out of), its latency is starlette's plus the fault's delay, and
it does not count accepted TCP connections.  This server does one thing: wait ``--delay``
seconds, answer ``GET /operators/{id}`` with a fixed operator, keep the connection alive,
and count what it accepted.

Protocol: prints ``PORT`` on its first stdout line; then each stdin line is a command:
``stats`` prints a JSON line ``{"accepted", "open", "max_open", "requests"}``; ``reset``
zeroes the counters (and answers ``{}``); end of stdin stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

OPERATOR = {"name": "Telia Lietuva", "country": "LT", "mcc": "246", "mnc": ["01"]}


class Counters:
    def __init__(self) -> None:
        self.accepted = self.open = self.max_open = self.requests = 0

    def as_json(self) -> str:
        return json.dumps(
            {
                "accepted": self.accepted,
                "open": self.open,
                "max_open": self.max_open,
                "requests": self.requests,
            }
        )


def _response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def _answer(target: str) -> bytes:
    path = target.split("?", 1)[0]
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "operators" and parts[1].isdigit():
        return _response(200, json.dumps({**OPERATOR, "id": int(parts[1])}).encode())
    return _response(404, b'{"message": "Not found."}')


async def _serve_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, counters: Counters
) -> None:
    counters.accepted += 1
    counters.open += 1
    counters.max_open = max(counters.max_open, counters.open)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            counters.requests += 1
            await asyncio.sleep(delay)
            writer.write(_answer(target) if method == "GET" else _response(400, b"{}"))
            await writer.drain()
    except ConnectionError:
        return
    finally:
        counters.open -= 1
        writer.close()


async def _control(counters: Counters, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.strip()
        if not line:
            stop.set()
            return
        if command == "reset":
            counters.__init__()  # type: ignore[misc]
            sys.stdout.write("{}\n")
        else:
            sys.stdout.write(counters.as_json() + "\n")
        sys.stdout.flush()


async def main(delay: float) -> None:
    counters = Counters()
    stop = asyncio.Event()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(
        lambda r, w: _serve_one(r, w, delay, counters), sock=sock, backlog=1024
    )
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    async with server:
        control = asyncio.create_task(_control(counters, stop))
        await stop.wait()
        await control


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer")
    asyncio.run(main(parser.parse_args().delay))
