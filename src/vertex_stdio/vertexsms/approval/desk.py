"""Approvals waiting for a person's decision in the browser: one per send, single use, short-lived.

An ``Approval`` is bound to exactly one send by ``send_key`` (the journal kind, recipient,
sender and a digest of the text VertexSMS would receive); it holds three secrets of its own:
the ``nonce`` in its one-time link (the only one a model may see), the ``binding`` cookie the
first browser to open the link receives, and the ``csrf`` token of the page's form.  It is
``pending`` until the person approves or declines it, or until ``LIFETIME`` (10 minutes) after
it was made, whichever comes first; an approved one is ``take``-n once, by the call that sends.
Pure state on an injected clock: the HTTP side is ``approval.page_server``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio


def new_state() -> str:
    """A one-time, unguessable value (a nonce, a cookie, a CSRF token)."""
    return secrets.token_urlsafe(32)


def same_secret(expected: str, got: str | None) -> bool:
    """Constant-time comparison; None never matches."""
    return got is not None and hmac.compare_digest(expected.encode("utf-8"), got.encode("utf-8"))


LIFETIME = 600.0
State = Literal["pending", "approved", "declined", "used"]


def send_key(kind: str, recipient: str, sender: str, text: str) -> str:
    """What binds an approval to one send: the same key only for the same kind, recipient,
    sender and text (compared by SHA-256 digest, so the key holds no message text)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return hashlib.sha256("\0".join((kind, recipient, sender, digest)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Summary:
    """What the approval page shows, already in words (the text with invisible characters shown)."""

    recipient: str
    sender: str
    text: str
    parts: int
    price: str
    today: str
    where: str = ""


@dataclass
class Approval:
    """One send waiting for (or holding) a person's decision."""

    key: str
    summary: Summary
    expires: float
    nonce: str = field(default_factory=new_state)
    binding: str = field(default_factory=new_state)
    csrf: str = field(default_factory=new_state)
    state: State = "pending"
    opened: bool = False
    shown_in_browser: bool = False
    decided: anyio.Event = field(default_factory=anyio.Event)

    def decide(self, approve: bool) -> None:
        """Record the person's decision (only while pending) and wake whoever waits for it."""
        if self.state == "pending":
            self.state = "approved" if approve else "declined"
            self.decided.set()


class Desk:
    """The process's approvals, keyed by nonce; expiry on ``clock`` (seconds since the epoch)."""

    def __init__(self, clock: Callable[[], float] = time.time, lifetime: float = LIFETIME) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._by_nonce: dict[str, Approval] = {}

    def create(self, key: str, summary: Summary) -> Approval:
        """A new pending approval for the send ``key`` (an earlier pending one for it is dropped)."""
        self._sweep()
        for old in [a for a in self._by_nonce.values() if a.key == key]:
            del self._by_nonce[old.nonce]
        approval = Approval(key, summary, self.clock() + self.lifetime)
        self._by_nonce[approval.nonce] = approval
        return approval

    def live(self, approval: Approval) -> bool:
        """Whether ``approval`` can still be decided or taken (not expired, not used)."""
        return approval.state in ("pending", "approved") and self.clock() < approval.expires

    def by_nonce(self, nonce: str) -> Approval | None:
        """The approval whose link carries ``nonce`` (constant-time compared), expired ones too."""
        for known, approval in self._by_nonce.items():
            if same_secret(known, nonce):
                return approval
        return None

    def pending(self, key: str) -> Approval | None:
        """The live, undecided approval of the send ``key``, if any."""
        return next(
            (a for a in self._by_nonce.values() if a.key == key and a.state == "pending" and self.live(a)),
            None,
        )

    def take(self, key: str) -> bool:
        """Use up the live approved approval of the send ``key``: True once, then False."""
        for approval in self._by_nonce.values():
            if approval.key == key and approval.state == "approved" and self.live(approval):
                approval.state = "used"
                return True
        return False

    def any_open(self) -> bool:
        """Whether any approval still needs its page (pending and not expired)."""
        return any(a.state == "pending" and self.live(a) for a in self._by_nonce.values())

    def _sweep(self) -> None:
        for gone in [a for a in self._by_nonce.values() if not self.live(a)]:
            del self._by_nonce[gone.nonce]
