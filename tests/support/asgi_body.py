"""An ASGI request's body, read whole before the app sees it, and a whole answer written, for the
test servers that look at a message first (``remote_mcp.py`` run as its own process,
``connect_script``, the gates in front of the SDK's server in tests)."""

from __future__ import annotations

import json
from typing import Any


async def read_body(receive: Any) -> bytes:
    """Every chunk of the request's body, joined."""
    chunks: list[bytes] = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; {} when it is empty, not JSON or not an object."""
    try:
        message = json.loads(body) if body else {}
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def replaying(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives ``body`` (already read) once, then the connection's own events."""
    given = False

    async def again() -> dict[str, Any]:
        nonlocal given
        if given:
            return dict(await receive())
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def answer(
    send: Any,
    status: int,
    body: bytes,
    kind: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """One whole HTTP answer: ``body``, of content type ``kind`` (its length said), ``extra`` headers after."""
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def json_answer(
    send: Any, status: int, message: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """``answer`` with ``message`` as JSON."""
    await answer(send, status, json.dumps(message).encode(), extra=extra)
