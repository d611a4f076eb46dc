"""What tests can ask of the emulator (``Fault``) and what it remembers (``Seen``, ``Journal``).

Both are plain, thread-safe data: tests run on their own thread while the emulator serves
from its background thread, so every shared list here sits behind a ``threading.Lock``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for the next ``times`` requests matching ``method`` and ``path``.

    ``method``/``path`` of None match anything; paths compare without a trailing slash.
    Steps, in order: wait ``delay`` seconds; ``drop`` closes the connection without a
    response, before the request is processed (no message exists); ``drop_after_processing``
    lets the emulator process it (a send gets its message id and a delivery status) and then
    closes the connection without a response, as when an answer is lost on the way back; otherwise the real response is replaced by ``status``/``body``/``headers``
    where given (``body_size`` streams that many filler bytes as the body), then delivered
    normally, or as headers followed by silence (``silence_after_headers``), or trickled at
    ``drip_bytes_per_s``.  ``times=None`` keeps the fault armed until ``clear_faults()``.
    Every wait ends early when the emulator stops.
    """

    method: str | None = None
    path: str | None = None
    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    drop_after_processing: bool = False
    silence_after_headers: bool = False
    drip_bytes_per_s: float | None = None
    body_size: int | None = None
    times: int | None = 1

    def matches(self, method: str, path: str) -> bool:
        """True when this fault applies to a request for ``method path``."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or _norm(self.path) == _norm(path)

    @property
    def reshapes(self) -> bool:
        """True when the response itself (not only its timing) is altered."""
        return (
            self.status is not None
            or self.body is not None
            or bool(self.headers)
            or self.body_size is not None
            or self.silence_after_headers
            or self.drip_bytes_per_s is not None
        )


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"


@dataclass(frozen=True)
class Seen:
    """One request as received: header names lower-case, ``time`` from ``time.monotonic()``.

    ``fault`` is the fault applied to it, if any.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float
    fault: Fault | None = None

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body)


class Journal:
    """Every request the emulator received, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []

    def record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def snapshot(self) -> list[Seen]:
        """A copy: later requests do not change it."""
        with self._lock:
            return list(self._seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None


class FaultBook:
    """Armed faults; ``take`` hands out the first match and counts it down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError("Fault.times must be at least 1, or None for every request")
        with self._lock:
            self._armed.append(_Armed(fault, fault.times))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one is armed (first armed, first used)."""
        with self._lock:
            for entry in self._armed:
                if not entry.fault.matches(method, path):
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._armed.remove(entry)
                return entry.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
