"""The ten VertexSMS tools and our two (quote_sms, get_sms_status), declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

from vertex_stdio.vertexsms.tools import delivery, messaging, numbers, quotes, senders


@dataclass(frozen=True)
class ToolSpec:
    """How one tool is offered to the model."""

    fn: Callable[..., Any]
    title: str
    description: str
    scope: str
    annotations: ToolAnnotations

    @property
    def name(self) -> str:
        return self.fn.__name__


def _reads(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
    )


def _changes(title: str) -> ToolAnnotations:
    # Not read-only (costs money or changes the account), not destructive (adds, never
    # deletes), not idempotent (a second call sends or registers again).
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
    )


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        messaging.send_sms,
        "Send SMS (billable)",
        messaging.SEND_SMS_DESCRIPTION,
        "sms:send",
        _changes("Send SMS (billable)"),
    ),
    ToolSpec(
        messaging.get_sms_rates,
        "Get SMS rates",
        messaging.GET_SMS_RATES_DESCRIPTION,
        "sms:rates",
        _reads("Get SMS rates"),
    ),
    ToolSpec(
        quotes.quote_sms,
        "Quote SMS price (free)",
        quotes.QUOTE_SMS_DESCRIPTION,
        "sms:send",
        _reads("Quote SMS price (free)"),
    ),
    ToolSpec(
        delivery.get_sms_status,
        "Get SMS delivery status",
        delivery.GET_SMS_STATUS_DESCRIPTION,
        "sms:send",
        _reads("Get SMS delivery status"),
    ),
    ToolSpec(
        senders.register_sender_id,
        "Register sender ID",
        senders.REGISTER_SENDER_ID_DESCRIPTION,
        "sender:write",
        _changes("Register sender ID"),
    ),
    ToolSpec(
        senders.register_msisdn_sender,
        "Register phone number as sender",
        senders.REGISTER_MSISDN_SENDER_DESCRIPTION,
        "sender:write",
        _changes("Register phone number as sender"),
    ),
    ToolSpec(
        senders.confirm_msisdn_sender,
        "Confirm phone-number sender",
        senders.CONFIRM_MSISDN_SENDER_DESCRIPTION,
        "sender:write",
        _changes("Confirm phone-number sender"),
    ),
    ToolSpec(
        numbers.lookup_hlr,
        "HLR lookup (billable)",
        numbers.LOOKUP_HLR_DESCRIPTION,
        "hlr:lookup",
        _changes("HLR lookup (billable)"),
    ),
    ToolSpec(
        numbers.get_operator,
        "Get operator",
        numbers.GET_OPERATOR_DESCRIPTION,
        "numbers:read",
        _reads("Get operator"),
    ),
    ToolSpec(
        numbers.get_mcc_mnc_list,
        "List MCC/MNC codes",
        numbers.GET_MCC_MNC_LIST_DESCRIPTION,
        "numbers:read",
        _reads("List MCC/MNC codes"),
    ),
    ToolSpec(
        numbers.get_mobile_prefixes,
        "Get mobile prefixes",
        numbers.GET_MOBILE_PREFIXES_DESCRIPTION,
        "numbers:read",
        _reads("Get mobile prefixes"),
    ),
    ToolSpec(
        numbers.correct_phone_number,
        "Correct phone numbers",
        numbers.CORRECT_PHONE_NUMBER_DESCRIPTION,
        "numbers:read",
        _reads("Correct phone numbers"),
    ),
)
TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in TOOLS)
