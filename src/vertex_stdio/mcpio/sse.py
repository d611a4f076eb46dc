"""A ``text/event-stream`` body read as the WHATWG server-sent events spec says, for ``mcp_http``:
each ``message`` event's data, the last event id and the ``retry`` the server asked for (so a
stream that ends before its answer is resumed, as the MCP SDK's client resumes it)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2

DEFAULT_RETRY_MS = 1000  # the MCP SDK client's wait when the server named none


@dataclass
class Resume:
    """Where a stream may be resumed: its last event id, and the wait the server asked for."""

    last_id: str | None = None
    retry_ms: int | None = None

    @property
    def delay(self) -> float:
        return (self.retry_ms if self.retry_ms is not None else DEFAULT_RETRY_MS) / 1000


async def event_data(response: httpx2.Response, resume: Resume) -> AsyncIterator[str]:
    """The ``data`` of each ``message`` event of a ``text/event-stream`` body (an event of another
    type is not a JSON-RPC message, as for the SDK); its ids and ``retry`` noted in ``resume``."""
    data: list[str] = []
    event = "message"
    async for line in _sse_lines(response):
        if not line:
            if data and event == "message":
                yield "\n".join(data)
            data, event = [], "message"
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith("event:"):
            event = line[6:].strip() or "message"
        elif line.startswith("id:") and "\0" not in line:
            resume.last_id = line[3:].removeprefix(" ")
        elif line.startswith("retry:") and line[6:].strip().isdigit():
            resume.retry_ms = int(line[6:].strip())
    if data and event == "message":
        yield "\n".join(data)


_LINE_END = re.compile(r"\r\n|\r|\n")


async def _sse_lines(response: httpx2.Response) -> AsyncIterator[str]:
    """The lines of an event stream: ended by CR LF, CR or LF only (``aiter_lines`` also ends
    them at U+2028 and the like, which JSON carries raw in a string)."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        held = "\r" if buffer.endswith("\r") else ""  # a CR LF may be split between chunks
        *lines, buffer = _LINE_END.split(buffer[: len(buffer) - len(held)])
        buffer += held
        for line in lines:
            yield line
    if buffer:
        yield buffer.removesuffix("\r")
