"""The two stdout writers (the SDK session's ``stdio.Wire`` and the early path's) write every
answer still queued when their senders close: the end of a session under a slow client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import pytest

from vertex_stdio.mcpio import early
from vertex_stdio.mcpio.lines import MAX_LINE_BYTES
from vertex_stdio.mcpio.pipes import FdPipe
from vertex_stdio.mcpio.stdio import Outgoing, Wire

pytestmark = pytest.mark.anyio

LINES = [b'{"jsonrpc":"2.0","id":%d,"result":{}}\n' % n for n in range(3)]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    try:
        yield read, write
    finally:
        os.close(read)
        os.close(write)


async def test_the_wire_writes_what_is_queued_when_its_senders_close(pipe: tuple[int, int]) -> None:
    read, write = pipe
    wire = Wire(
        FdPipe(read, name="stdin"), FdPipe(write, name="stdout"), limit=MAX_LINE_BYTES, max_in_flight=4
    )
    send, receive = anyio.create_memory_object_stream[Outgoing](len(LINES))
    for line in LINES:
        send.send_nowait(line)
    send.close()  # before the writer has taken any: it finds them queued and the stream closed
    with anyio.fail_after(10):  # a bound, not a measure: it returns at once
        await wire.write(receive)
    assert os.read(read, 4096) == b"".join(LINES)


async def test_the_early_writer_writes_what_is_queued_when_its_senders_close(pipe: tuple[int, int]) -> None:
    read, write = pipe
    send, receive = anyio.create_memory_object_stream[tuple[int | None, bytes]](len(LINES))
    for n, line in enumerate(LINES):
        send.send_nowait((n if n else None, line))  # 0: a busy refusal, which answers no call in flight
    send.close()
    answered: list[int | str] = []
    with anyio.fail_after(10):
        await early._write(FdPipe(write, name="stdout"), receive, answered.append)
    assert os.read(read, 4096) == b"".join(LINES)
    assert answered == [1, 2]
