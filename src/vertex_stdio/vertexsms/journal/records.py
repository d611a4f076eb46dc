"""What the send journal stores and the rules it checks a new call against. Pure: no I/O.

A ``Record`` is one billable or account-changing call.  It is written ``pending`` before the
request leaves and finished with one of ``sent``, ``refused``, ``unknown`` or ``not_sent``.
``decide`` is the duplicate guard and the spend limits in one place: given the records of
the last 24 hours of the same kind, it says whether a new send may go.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["real", "test", "sandbox"]
Outcome = Literal["pending", "sent", "refused", "unknown", "not_sent"]
OUTCOMES: tuple[Outcome, ...] = ("pending", "sent", "refused", "unknown", "not_sent")
# Outcomes that may have reached a phone: they count for the duplicate guard and the limits.
MAY_HAVE_GONE: frozenset[str] = frozenset({"pending", "sent", "unknown"})
DAY = 24 * 3600.0
PREVIEW_CHARS = 24
# How far the journal's newest record may lie in this call's future before the clock is
# distrusted (several processes share one clock; this covers a small correction).
CLOCK_SKEW = 300.0


def digest(text: str) -> str:
    """The message's fingerprint: SHA-256 of its text (the text itself is never stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def preview(text: str) -> str:
    """A short, digit-masked start of the text: enough to recognise it, no codes or numbers."""
    masked = re.sub(r"\d", "•", re.sub(r"\s+", " ", text).strip())
    return masked if len(masked) <= PREVIEW_CHARS else masked[: PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class NewCall:
    """A call about to be made: what a person needs to reconcile it later, nothing secret."""

    tool: str
    kind: Kind
    started: float
    recipient: str | None = None
    sender: str | None = None
    digest: str | None = None
    preview: str | None = None
    parts: int | None = None
    price_eur: float | None = None
    pid: int | None = None
    client: str | None = None
    allow_duplicate: bool = False


@dataclass(frozen=True)
class Record:
    """One journal row."""

    id: int
    tool: str
    kind: Kind
    started: float
    outcome: Outcome
    recipient: str | None = None
    sender: str | None = None
    digest: str | None = None
    preview: str | None = None
    parts: int | None = None
    price_eur: float | None = None
    message_id: str | None = None
    detail: str | None = None
    finished: float | None = None
    pid: int | None = None
    client: str | None = None


@dataclass(frozen=True)
class Finish:
    """How a call ended."""

    outcome: Outcome
    message_id: str | None = None
    parts: int | None = None
    price_eur: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Rules:
    """The duplicate window and the spend limits; ``0``/None disables each."""

    duplicate_window: float = 600.0
    max_messages_per_day: int = 100
    max_recipients_per_day: int = 50
    max_eur_per_day: float | None = None


@dataclass(frozen=True)
class Duplicate:
    """The new send repeats ``earlier`` inside the window."""

    earlier: Record


@dataclass(frozen=True)
class OverLimit:
    """The new send would cross ``limit`` (its setting's name), now at ``count`` of ``maximum``."""

    limit: str
    setting: str
    count: float
    maximum: float


@dataclass(frozen=True)
class ClockBehind:
    """The journal holds a call started at ``newest``, beyond ``CLOCK_SKEW`` after this call's
    ``started``: the clock jumped back, or a process whose clock ran ahead wrote that record."""

    newest: float
    started: float


Verdict = Duplicate | OverLimit | ClockBehind | None


def clock_check(newest: float | None, started: float) -> ClockBehind | None:
    """``ClockBehind`` when the journal's ``newest`` record is in ``started``'s future beyond the skew.

    The guard and the limits count by time, so a call is not judged (nor recorded) by a clock
    that disagrees with the journal it is judged against.
    """
    if newest is not None and newest > started + CLOCK_SKEW:
        return ClockBehind(newest, started)
    return None


def prune_before(newest: float | None, now: float, retention: float) -> float | None:
    """Where pruning may cut: ``retention`` before the journal's own newest record, never by this
    process's clock alone; None (prune nothing) for an empty journal or one whose newest record
    lies in ``now``'s future beyond the skew (a clock that jumped)."""
    if newest is None or newest > now + CLOCK_SKEW:
        return None
    return newest - retention


@dataclass(frozen=True)
class Window:
    """What the guard and the limits need to know of the recent records of one tool and kind.

    Only records that may have gone out count; ``duplicate`` is the newest identical one inside
    the duplicate window, the rest sum up the last 24 hours.
    """

    duplicate: Record | None
    messages: int
    recipients: int
    known_recipient: bool
    eur: float


def is_same(r: Record, new: NewCall) -> bool:
    return (r.recipient, r.sender, r.digest) == (new.recipient, new.sender, new.digest)


def summarize(new: NewCall, recent: Iterable[Record], rules: Rules) -> Window:
    """The ``Window`` for ``new`` from records (what a store without queries does)."""
    live = [r for r in recent if r.tool == new.tool and r.kind == new.kind and r.outcome in MAY_HAVE_GONE]
    since = new.started - rules.duplicate_window
    same = [r for r in live if r.started >= since and is_same(r, new)]
    day = [r for r in live if r.started >= new.started - DAY]
    recipients = {r.recipient for r in day}
    return Window(
        duplicate=max(same, key=lambda r: (r.started, r.id)) if same else None,
        messages=len(day),
        recipients=len(recipients),
        known_recipient=new.recipient in recipients,
        eur=sum(r.price_eur or 0.0 for r in day),
    )


def decide(new: NewCall, window: Window, rules: Rules) -> Verdict:
    """Whether ``new`` (a send) may go: the duplicate guard first, then each limit."""
    if rules.duplicate_window > 0 and not new.allow_duplicate and window.duplicate is not None:
        return Duplicate(window.duplicate)
    if rules.max_messages_per_day and window.messages + 1 > rules.max_messages_per_day:
        return OverLimit(
            "messages per 24 h", "VERTEXSMS_MAX_MESSAGES_PER_DAY", window.messages, rules.max_messages_per_day
        )
    if (
        rules.max_recipients_per_day
        and not window.known_recipient
        and window.recipients + 1 > rules.max_recipients_per_day
    ):
        return OverLimit(
            "recipients per 24 h",
            "VERTEXSMS_MAX_RECIPIENTS_PER_DAY",
            window.recipients,
            rules.max_recipients_per_day,
        )
    if rules.max_eur_per_day and window.eur + (new.price_eur or 0.0) > rules.max_eur_per_day + 1e-9:
        return OverLimit(
            "EUR per 24 h", "VERTEXSMS_MAX_EUR_PER_DAY", round(window.eur, 4), rules.max_eur_per_day
        )
    return None


@dataclass(frozen=True)
class Totals:
    """What the last 24 hours of one kind add up to (for ``history`` and ``doctor``)."""

    messages: int
    recipients: int
    parts: int
    eur: float
    unknown: int


def totals(records: Iterable[Record], kind: Kind, now: float) -> Totals:
    """Sends of ``kind`` in the 24 hours before ``now`` that may have gone out."""
    day = [
        r
        for r in records
        if r.tool == "send_sms" and r.kind == kind and r.outcome in MAY_HAVE_GONE and r.started >= now - DAY
    ]
    return Totals(
        messages=len(day),
        recipients=len({r.recipient for r in day}),
        parts=sum(r.parts or 0 for r in day),
        eur=round(sum(r.price_eur or 0.0 for r in day), 4),
        unknown=sum(1 for r in day if r.outcome != "sent"),
    )
