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
from dataclasses import dataclass, fields
from typing import Literal

from vertex_stdio.vertexsms.policy import Breach, Policy

Kind = Literal["real", "test", "sandbox"]
Outcome = Literal["pending", "sent", "refused", "unknown", "not_sent"]
OUTCOMES: tuple[Outcome, ...] = ("pending", "sent", "refused", "unknown", "not_sent")
# Outcomes that may have reached a phone: they count for the duplicate guard and the limits.
MAY_HAVE_GONE: frozenset[str] = frozenset({"pending", "sent", "unknown"})
# Calls that reach a phone number and cost money: each counts as one message to its recipient in
# the daily limits (an HLR lookup, and the PIN SMS VertexSMS sends on a number's registration).
BILLED_TOOLS: frozenset[str] = frozenset({"send_sms", "lookup_hlr", "register_msisdn_sender"})
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
    price_source: str | None = None
    machine: str = ""  # the host name of the machine that made the call (a team shares one journal)
    os_user: str = ""  # the operating-system account that ran it


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
    price_source: str | None = None
    machine: str = ""
    os_user: str = ""


# A record's columns, in ``Record``'s order (the chain covers them in this order), and those a
# new call writes with its ``pending`` insert (not the id, the outcome, nor what ``finish`` adds):
# one list for every store.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))
INSERTED: tuple[str, ...] = tuple(f.name for f in fields(NewCall) if f.name in COLUMNS)


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
    policy: Policy | None = None  # its caps are counted in the same step (``usage.py``)


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
class Unpriced:
    """A EUR limit is set and the new call's price cannot be known: it is not made (never €0)."""


Verdict = Duplicate | OverLimit | ClockBehind | Unpriced | Breach | None


@dataclass(frozen=True)
class Window:
    """What the guard and the limits need to know of the recent records of one kind.

    Only records that may have gone out count; ``duplicate`` is the newest identical one of the
    same tool inside the duplicate window; the rest sum up the last 24 hours of every tool the
    new call is counted with (``counted_with``).  ``eur`` is what priced records cost;
    ``unpriced_parts`` the parts of records with no price (older journals, or sends made when no
    price could be had) and ``top_rate`` the highest price per part among the priced ones.
    """

    duplicate: Record | None
    messages: int
    recipients: int
    known_recipient: bool
    eur: float
    unpriced_parts: int = 0
    top_rate: float = 0.0


def counted_with(tool: str) -> frozenset[str]:
    """The tools whose records count toward ``tool``'s daily limits."""
    return BILLED_TOOLS if tool in BILLED_TOOLS else frozenset({tool})


def per_part(price_eur: float | None, parts: int | None) -> float | None:
    """A record's price of one part (a lookup or a PIN SMS is one part)."""
    return None if price_eur is None else price_eur / max(parts or 1, 1)


def spent(window: Window, rate: float | None = None) -> float:
    """The EUR the window's records count for: an unpriced record is never €0; it counts at the
    highest price per part known (the window's records, and ``rate``: the new call's)."""
    return window.eur + window.unpriced_parts * max(window.top_rate, rate or 0.0)


def is_same(r: Record, new: NewCall) -> bool:
    return (r.recipient, r.sender, r.digest) == (new.recipient, new.sender, new.digest)


def summarize(new: NewCall, recent: Iterable[Record], rules: Rules) -> Window:
    """The ``Window`` for ``new`` from records (what a store without queries does)."""
    tools = counted_with(new.tool)
    live = [r for r in recent if r.tool in tools and r.kind == new.kind and r.outcome in MAY_HAVE_GONE]
    since = new.started - rules.duplicate_window
    same = [r for r in live if r.tool == new.tool and r.started >= since and is_same(r, new)]
    day = [r for r in live if r.started >= new.started - DAY]
    return tally(day, new.recipient, max(same, key=lambda r: (r.started, r.id)) if same else None)


def tally(day: list[Record], recipient: str | None, duplicate: Record | None = None) -> Window:
    """The ``Window`` of a day's live records, for a call to ``recipient``."""
    recipients = {r.recipient for r in day}
    rates = [per_part(r.price_eur, r.parts) for r in day]
    return Window(
        duplicate=duplicate,
        messages=len(day),
        recipients=len(recipients),
        known_recipient=recipient in recipients,
        eur=sum(r.price_eur or 0.0 for r in day),
        unpriced_parts=sum(max(r.parts or 1, 1) for r in day if r.price_eur is None),
        top_rate=max((r for r in rates if r is not None), default=0.0),
    )


def decide(new: NewCall, window: Window, rules: Rules) -> Verdict:
    """Whether ``new`` may go: the duplicate guard first, then each limit."""
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
    if not rules.max_eur_per_day:
        return None
    if new.price_eur is None or new.price_eur <= 0:
        return Unpriced()
    so_far = spent(window, per_part(new.price_eur, new.parts))
    if so_far + new.price_eur > rules.max_eur_per_day + 1e-9:
        return OverLimit("EUR per 24 h", "VERTEXSMS_MAX_EUR_PER_DAY", round(so_far, 4), rules.max_eur_per_day)
    return None


@dataclass(frozen=True)
class Totals:
    """What the last 24 hours of one kind add up to (for ``history`` and ``doctor``).

    ``eur`` counts an unpriced record (``unpriced`` of them) at the highest price per part of
    the priced ones, as the EUR limit does.
    """

    messages: int
    recipients: int
    parts: int
    eur: float
    unknown: int
    unpriced: int = 0


def totals(records: Iterable[Record], kind: Kind, now: float) -> Totals:
    """Billable calls to a number of ``kind`` in the 24 hours before ``now`` that may have gone out."""
    day = [
        r
        for r in records
        if r.tool in BILLED_TOOLS and r.kind == kind and r.outcome in MAY_HAVE_GONE and r.started >= now - DAY
    ]
    window = tally(day, None)
    return Totals(
        messages=window.messages,
        recipients=window.recipients,
        parts=sum(r.parts or 0 for r in day),
        eur=round(spent(window), 4),
        unknown=sum(1 for r in day if r.outcome != "sent"),
        unpriced=sum(1 for r in day if r.price_eur is None),
    )
