"""The emulator's mutable account: tokens and their scopes, sender IDs, id counters.

Touched from the test's thread (``add_token``) and the server's thread (requests), so
every change happens under one ``threading.Lock``.  ``ApiError`` is how the REST layer
and this state say "answer with this status and ``{"message": ...}``".
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import anyio.to_thread

SANDBOX_TOKEN = "vertex-sandbox-token"  # noqa: S105 - the emulator's fixed, public sample token
ALL_SCOPES: frozenset[str] = frozenset(
    {"sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read"}
)
SCOPE_ORDER = ("sms:send", "sms:rates", "sender:write", "hlr:lookup", "numbers:read")
DELIVERY_SECONDS = 2.0  # how long an emulated message stays pending before its delivery report
SANDBOX_PIN = "12345"  # every MSISDN sender's confirmation PIN in the sandbox (no SMS is sent)

TokenCheck = Callable[[str], frozenset[str] | None]


class ApiError(Exception):
    """A REST error answer: ``status`` with body ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Sender:
    """A registered sender ID; MSISDN senders wait for ``SANDBOX_PIN``."""

    id: int
    name: str
    type: str
    confirmed: bool


class SandboxState:
    """Tokens, senders and counters of the one emulated account."""

    def __init__(self, tokens: Mapping[str, Iterable[str]], authorization_servers: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._tokens = {token: frozenset(scopes) for token, scopes in tokens.items()}
        self.authorization_servers = tuple(authorization_servers)
        self.token_check: TokenCheck | None = None
        self._senders: dict[int, Sender] = {}
        # Several sandbox processes share one journal: each emulator counts from its own base,
        # so their message ids do not collide.
        self._message_ids = itertools.count(1_000_001 + secrets.randbelow(9000) * 1_000_000)
        self._hlr_ids = itertools.count(1_203_877_133)
        self._sender_ids = itertools.count(123)
        self._messages: dict[str, tuple[float, str | None]] = {}
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
        with self._lock:
            message_id = f"sandbox-{next(self._message_ids)}"
            self._messages[message_id] = (time.monotonic(), test_mode)
            return message_id

    def message_status(self, message_id: str) -> dict[str, object]:
        """``{id, status, error}`` as ``GET /sms/status`` answers: pending (0) for the first
        ``delivery_seconds``, then delivered (1), or undelivered (2, error 1) for testMode 2; 404 unknown."""
        with self._lock:
            found = self._messages.get(message_id)
        if found is None:
            raise ApiError(404, f"Message {message_id} was not found.")
        sent_at, test_mode = found
        if time.monotonic() - sent_at < self.delivery_seconds:
            return {"id": message_id, "status": 0, "error": 0}
        if test_mode == "2":
            return {"id": message_id, "status": 2, "error": 1}
        return {"id": message_id, "status": 1, "error": 0}

    def next_hlr_id(self) -> int:
        with self._lock:
            return next(self._hlr_ids)

    def register_sender(self, name: str, kind: str) -> int:
        """Add a sender; 409 when the name is taken (case-insensitively)."""
        with self._lock:
            if any(s.name.lower() == name.lower() for s in self._senders.values()):
                raise ApiError(409, f"Sender ID {name} is already registered for this account.")
            sender_id = next(self._sender_ids)
            self._senders[sender_id] = Sender(sender_id, name, kind, confirmed=False)
            return sender_id

    def confirm_sender(self, sender_id: int, code: str) -> None:
        """Confirm an MSISDN sender with its PIN: 404 unknown, 409 not pending, 400 wrong PIN."""
        with self._lock:
            sender = self._senders.get(sender_id)
            if sender is None:
                raise ApiError(404, f"Sender ID {sender_id} was not found.")
            if sender.type != "MSISDN":
                raise ApiError(409, "Only MSISDN sender IDs are confirmed with a PIN.")
            if sender.confirmed:
                raise ApiError(409, f"Sender ID {sender_id} is already confirmed.")
            if code != SANDBOX_PIN:
                raise ApiError(400, "The confirmation code is not valid.")
            sender.confirmed = True
