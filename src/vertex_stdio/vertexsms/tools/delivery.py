"""get_sms_status: whether a sent message was delivered, and what the journal knows of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from vertex_stdio.core.errors import NotFound
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.journal import Record
from vertex_stdio.vertexsms.tools.base import AnyContext, ContextPrompt, services
from vertex_stdio.vertexsms.tools.models import JournalEntry, SmsStatusResult

STATUS = Operation(tool="get_sms_status", scope="sms:send", costs_or_changes=False)

# Delivery statuses (DLR) and the numeric error codes of reference/vertexsms-api.md §2.5-2.6.
Status = Literal["pending", "delivered", "undelivered", "seen", "expired", "unknown"]
STATUSES: dict[int, Status] = {0: "pending", 1: "delivered", 2: "undelivered", 3: "seen", 16: "expired"}
ERRORS = {
    0: "no error",
    1: "the network refused it: illegal subscriber (MSC error)",
    2: "not delivered: the validity period expired",
    20: "this country or operator is not configured for the account",
    21: "blocked by a filter (e.g. a blacklisted number)",
    22: "refused as a duplicate SMS",
    23: "the limit of messages to this one number was reached",
    24: "the account's balance limit was reached",
    40: "the subscriber is unknown to the network (HLR)",
    41: "SMS is barred for this subscriber (HLR)",
    43: "the subscriber is absent (phone off or out of coverage)",
    51: "another or unknown HLR error",
    53: "the phone number is not valid",
    999: "an unknown VertexSMS error",
}

GET_SMS_STATUS_DESCRIPTION = """The delivery status of a message sent with send_sms: pending, \
delivered, undelivered, seen or expired, with VertexSMS's error code explained in words, and what \
the local send journal recorded about that send (time, recipient, parts, price, outcome). Free and \
read-only. Use it after send_sms (its message_id), and before resending anything whose outcome was \
unknown. Delivery reports can take seconds to minutes: 'pending' means ask again later."""


async def get_sms_status(
    message_id: Annotated[
        str,
        Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The message_id that send_sms returned."),
    ],
    ctx: AnyContext,
) -> SmsStatusResult:
    svc = services(ctx)
    record = await svc.journal.find(message_id)
    try:
        response = await svc.rest.call(STATUS, "GET", f"/sms/status/{message_id}", prompt=ContextPrompt(ctx))
    except NotFound as exc:
        known = f" The local journal has it: {_said(record)}." if record else ""
        raise NotFound(f"VertexSMS has no message with id {message_id}.{known}") from exc
    answer = response.json(STATUS)
    item: dict[str, Any] = answer[0] if isinstance(answer, list) and answer else answer
    if not isinstance(item, dict):
        item = {}
    status = _int(item.get("status"))
    error = _int(item.get("error"))
    return SmsStatusResult(
        message_id=message_id,
        status=STATUSES.get(status, "unknown") if status is not None else "pending",
        status_code=status,
        error_code=error,
        error=ERRORS.get(error, f"VertexSMS error code {error}") if error is not None else None,
        reported_at=str(item["dlrDate"]) if item.get("dlrDate") else None,
        journal=_entry(record) if record else None,
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _local(when: float) -> str:
    return datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")


def _said(record: Record) -> str:
    return f"{record.outcome} at {_local(record.started)}"


def _entry(record: Record) -> JournalEntry:
    return JournalEntry(
        time=_local(record.started),
        outcome=record.outcome,
        kind=record.kind,
        recipient=record.recipient,
        sender=record.sender,
        parts=record.parts,
        price_eur=record.price_eur,
        price_source=record.price_source,
    )
