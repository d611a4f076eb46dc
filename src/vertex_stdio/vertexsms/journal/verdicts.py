"""The journal's verdicts as the tool errors a person reads: a duplicate, a limit crossed, an
unknown price, a clock that jumped back, a journal that cannot be used; each says what was not
sent and what to do next, with a command that runs as printed.  Also what the journal keeps of
an error (``text_free_detail``: never the message text, nor VertexSMS's words).
"""

from __future__ import annotations

import re
from datetime import datetime

from vertex_stdio.core.errors import DuplicateSend, JournalUnavailable, SpendLimit, VertexError
from vertex_stdio.core.launcher import command
from vertex_stdio.core.redact import redact
from vertex_stdio.vertexsms.journal.records import ClockBehind, Duplicate, Kind, OverLimit, Record, Unpriced
from vertex_stdio.vertexsms.journal.store import Refused
from vertex_stdio.vertexsms.journal.where import remedy

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|\u2018[^\u2019]*\u2019|«[^»]*»|`[^`]*`")
_LONG_NUMBER = re.compile(r"\d{5,}")


def text_free_detail(exc: VertexError) -> str:
    """What the journal keeps of an error: its code, VertexSMS's numeric code, and the first
    sentence of our own words with anything quoted and any long number masked.

    Never VertexSMS's words (they may quote the message, the recipient or the token) nor
    anything the caller typed: the journal never stores message text, even quoted back.
    """
    ours = exc.message.split(" VertexSMS said:", 1)[0]
    first = re.split(r"(?<=[.;!?])\s", ours, maxsplit=1)[0]
    reason = _LONG_NUMBER.sub("•", _QUOTED.sub("…", redact(first)))[:160]
    code = f" (VertexSMS code {exc.vertex_error_code})" if exc.vertex_error_code is not None else ""
    return f"{exc.code}{code}: {reason}"


def refusal(refused: Refused, tool: str, kind: Kind, where: str) -> VertexError:
    verdict = refused.verdict
    if isinstance(verdict, Duplicate):
        return duplicate(verdict.earlier, tool)
    if isinstance(verdict, OverLimit):
        return over(verdict, kind)
    if isinstance(verdict, ClockBehind):
        return clock_behind(verdict, where)
    if isinstance(verdict, Unpriced):
        return unpriced(tool, "its price could not be found")
    return unavailable("the journal refused the call for no stated reason")


def clock_behind(verdict: ClockBehind, where: str) -> JournalUnavailable:
    def local(when: float) -> str:
        return datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")

    return JournalUnavailable(
        f"Not sent: this computer's clock reads {local(verdict.started)}, but the send journal "
        f"{where} already holds a call made at {local(verdict.newest)}, later than now. The clock "
        "has jumped back, or a process ran with a clock ahead; the duplicate guard and the 24-hour "
        "limits count by time, so calls that cost money wait until the clock is right. Check the "
        f"system clock (`date`); `{command('history --since 1d')}` lists the journal's latest calls. "
        f"If the clock is right and that call's time is wrong, move the journal aside: "
        f"mv '{where}' '{where}.ahead' (a new one is created; the old file keeps its history).",
        outcome="not_sent",
    )


def duplicate(earlier: Record, tool: str) -> DuplicateSend:
    when = datetime.fromtimestamp(earlier.started).astimezone().isoformat(timespec="seconds")
    named = "message id" if tool == "send_sms" else "id"  # a lookup's or a sender's id
    ref = f"{named} {earlier.message_id}" if earlier.message_id else f"no {named} yet"
    if tool == "send_sms":
        what = "the same text to the same recipient from the same sender was already sent"
        then = (
            "If the person really wants it sent again, call send_sms once more with allow_duplicate: "
            "true; to see whether the first one arrived, use get_sms_status"
            + (f" with message_id {earlier.message_id}." if earlier.message_id else ".")
        )
    else:
        what = f"{tool} was already called for the same number"
        then = (
            "Each call is billed and its answer goes to the first call's callback. Tell the user; a "
            "repeat goes only after the duplicate window (the setting VERTEXSMS_DUPLICATE_WINDOW, "
            "in minutes) has passed."
        )
    return DuplicateSend(
        f"Not sent: {what} at {when} ({ref}, outcome {earlier.outcome}). {then}",
        earlier_message_id=earlier.message_id,
        earlier_time=when,
        earlier_outcome=earlier.outcome,
        outcome="not_sent",
    )


def unpriced(tool: str, why: str, maximum: float | None = None) -> SpendLimit:
    """``SpendLimit`` for a call whose price is unknown (``why``) while a EUR limit is set."""
    return SpendLimit(
        f"Not sent: the price of this {tool} call is unknown ({why}), and a call of unknown price is "
        "never counted as €0 against the EUR limit. Try again later, when VertexSMS can quote it; "
        "only the user can turn the limit off (the setting VERTEXSMS_MAX_EUR_PER_DAY). "
        f"`{command('history')}` shows what was spent.",
        limit="EUR per 24 h",
        setting="VERTEXSMS_MAX_EUR_PER_DAY",
        maximum=maximum,
        price="unknown",
        outcome="not_sent",
    )


def over(verdict: OverLimit, kind: Kind = "real") -> SpendLimit:
    count = f"{verdict.count:g}"
    maximum = f"{verdict.maximum:g}"
    where = "" if kind == "real" else f" (counting {kind} sends only)"
    return SpendLimit(
        f"Not sent: the limit of {maximum} {verdict.limit} would be crossed (now {count}){where}. "
        f"Tell the user; only they can raise it, with the setting {verdict.setting} (0 turns it off). "
        f"`{command('history')}` shows what was sent.",
        limit=verdict.limit,
        count=verdict.count,
        maximum=verdict.maximum,
        setting=verdict.setting,
        outcome="not_sent",
    )


def unavailable(
    why: str, where: str = "", transient: bool = False, advice: str | None = None
) -> JournalUnavailable:
    """``advice``: what to do, when the store knows (else ``remedy``'s word for ``where``)."""
    return JournalUnavailable(
        f"Not sent: {why}. Calls that cost money or change the account are made only when they can "
        f"be recorded first. Run `{command('doctor')}` to see the journal's state; "
        f"{advice or remedy(where)}. "
        "Free tools keep working.",
        outcome="not_sent",
        retryable=transient,  # a database that was down may be back; a damaged file is not
    )
