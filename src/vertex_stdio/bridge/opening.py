"""What the link (``link.py``) opens a connection with, and what it learns when it has.

``Opening`` holds how to reach the remote and builds, for each new connection, the HTTP client
its SDK client sends with -- our sign-in (``BearerAuth``), the ``--header`` headers, the answer
cap -- and the SDK transport over it: Streamable HTTP, whose HTTP client notes the session's
headers (``joined.SessionNote``, for the lean calls) and a 404 to a session
(``athand.note_ended``); or, once the remote refused the Streamable HTTP POST outright, the
2024-11-05 HTTP+SSE transport.  ``describe`` is what the remote said about itself (``Session``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from vertex_stdio import __version__
from vertex_stdio.bridge.athand import note_ended
from vertex_stdio.bridge.edge import Tokens
from vertex_stdio.bridge.joined import SessionNote
from vertex_stdio.core.calls import MAX_ANSWER_BYTES, BearerAuth
from vertex_stdio.core.http import make_client


@dataclass(frozen=True)
class Session:
    """What the remote said about itself when the connection opened."""

    client: Client
    capabilities: dict[str, Any]
    server_info: dict[str, Any]
    instructions: str | None


def describe(client: Client) -> Session:
    """The opened SDK ``client``'s account of the remote, as JSON."""
    info = client.server_info
    return Session(
        client=client,
        capabilities=client.server_capabilities.model_dump(by_alias=True, mode="json", exclude_none=True),
        server_info=info.model_dump(by_alias=True, mode="json", exclude_none=True) if info else {},
        instructions=client.instructions,
    )


@dataclass(frozen=True)
class Opening:
    """How to reach the remote at ``url``: the sign-in, the time limit, the HTTP transport (a test
    seam; None: the network), the ``--header`` headers and the answer cap."""

    url: str
    tokens: Tokens
    timeout: float
    transport: httpx2.AsyncBaseTransport | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    max_answer: int = MAX_ANSWER_BYTES

    def http_client(self) -> httpx2.AsyncClient:
        """A new HTTP client for one connection."""
        return make_client(
            timeout=self.timeout,
            transport=self.transport,
            # Quiet: an exception from the flow would surface from deep inside the SDK's transport.
            auth=BearerAuth(
                self.tokens,
                silent=self.tokens.silent_token,
                quiet=True,
                accepted=self.tokens.accepted,
                challenged=self.tokens.challenged,
                step_up_replays=True,
            ),
            headers={"User-Agent": f"vertex-stdio/{__version__}", **self.headers},
            max_answer=self.max_answer,
        )

    def stream(self, *, legacy: bool, noted: SessionNote) -> tuple[Any, AbstractAsyncContextManager[Any]]:
        """The SDK transport (Streamable HTTP, its session headers noted on ``noted``; with
        ``legacy``, HTTP+SSE) and the HTTP client the caller must close itself (if any)."""
        if legacy:
            # sse_client opens and closes the client its factory builds.
            factory = cast(Any, lambda headers=None, timeout=None, auth=None: self.http_client())
            return sse_client(self.url, httpx_client_factory=factory), contextlib.nullcontext()
        http = self.http_client()
        noted.watch(http)
        http.event_hooks["response"].append(note_ended)
        # The SDK's own per-event cap sits just above ours, so ours (which is noted) acts first.
        stream = streamable_http_client(
            self.url, http_client=http, max_sse_event_size=self.max_answer + 65536
        )
        return stream, http
