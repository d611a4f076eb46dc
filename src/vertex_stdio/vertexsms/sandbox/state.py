"""The emulator's mutable account: tokens and their scopes, and its ``Book`` (messages, senders, ids).

Touched from the test's thread (``add_token``) and the server's thread (requests), so
token changes happen under one ``threading.Lock``; the book keeps its own.  ``ApiError`` is how
the REST layer and this state say "answer with this status and ``{"message": ...}``".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

import anyio.to_thread

from vertex_stdio.vertexsms.sandbox.book import SANDBOX_PIN, ApiError, Book, MemoryBook, Sender
from vertex_stdio.vertexsms.sandbox.tokens import ALL_SCOPES, SANDBOX_TOKEN, SCOPE_ORDER

DELIVERY_SECONDS = 2.0  # how long an emulated message stays pending before its delivery report

TokenCheck = Callable[[str], frozenset[str] | None]


class SandboxState:
    """Tokens, senders and counters of the one emulated account."""

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]],
        authorization_servers: Iterable[str],
        book: Book | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._tokens = {token: frozenset(scopes) for token, scopes in tokens.items()}
        self.authorization_servers = tuple(authorization_servers)
        self.token_check: TokenCheck | None = None
        self.book: Book = book or MemoryBook()
        self.delivery_seconds = DELIVERY_SECONDS

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        with self._lock:
            self._tokens[token] = frozenset(scopes)

    def remove_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    async def scopes_for(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None when it is unknown (``token_check`` runs off-loop)."""
        with self._lock:
            scopes = self._tokens.get(token)
        check = self.token_check
        if scopes is None and check is not None:
            scopes = await anyio.to_thread.run_sync(check, token, abandon_on_cancel=True)
        return None if scopes is None else frozenset(scopes)

    def next_message_id(self, test_mode: str | None = None) -> str:
        """A new message's id; the message is remembered for ``message_status``."""
        return self.book.new_message(test_mode, time.time())

    def message_status(self, message_id: str) -> dict[str, object]:
        """``{id, status, error}`` as ``GET /sms/status`` answers: pending (0) for the first
        ``delivery_seconds``, then delivered (1), or undelivered (2, error 1) for testMode 2; 404 unknown."""
        found = self.book.message(message_id)
        if found is None:
            raise ApiError(404, f"Message {message_id} was not found.")
        sent_at, test_mode = found
        if time.time() - sent_at < self.delivery_seconds:
            return {"id": message_id, "status": 0, "error": 0}
        if test_mode == "2":
            return {"id": message_id, "status": 2, "error": 1}
        return {"id": message_id, "status": 1, "error": 0}

    def next_hlr_id(self) -> int:
        return self.book.new_hlr()

    def register_sender(self, name: str, kind: str) -> int:
        """Add a sender; 409 when the name is taken (case-insensitively)."""
        return self.book.new_sender(name, kind)

    def confirm_sender(self, sender_id: int, code: str) -> None:
        """Confirm an MSISDN sender with its PIN: 404 unknown, 409 not pending, 400 wrong PIN."""
        self.book.confirm_sender(sender_id, code)


__all__ = ["ALL_SCOPES", "SANDBOX_PIN", "SANDBOX_TOKEN", "SCOPE_ORDER", "ApiError", "Sender"]
