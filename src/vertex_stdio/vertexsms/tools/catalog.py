"""The ten VertexSMS tools and our two (quote_sms, get_sms_status), declared once.

A tool's module is imported when its function or description is first asked for
(``ToolSpec.fn``): the server registers a tool at its first call, so a session that never sends
never imports the send tools, nor the journal, policy and approval modules they need (issue 22).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations


@dataclass(frozen=True)
class ToolSpec:
    """How one tool is offered to the model: ``name`` is its function in ``vertexsms.tools.<module>``,
    described by that module's ``<NAME>_DESCRIPTION``."""

    name: str
    module: str
    title: str
    scope: str
    annotations: ToolAnnotations

    @property
    def fn(self) -> Callable[..., Any]:
        found: Callable[..., Any] = getattr(self._module(), self.name)
        return found

    @property
    def description(self) -> str:
        return str(getattr(self._module(), self.name.upper() + "_DESCRIPTION"))

    def _module(self) -> Any:
        return importlib.import_module(f"vertex_stdio.vertexsms.tools.{self.module}")


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
        "send_sms",
        "messaging",
        "Send SMS (billable)",
        "sms:send",
        _changes("Send SMS (billable)"),
    ),
    ToolSpec(
        "get_sms_rates",
        "messaging",
        "Get SMS rates",
        "sms:rates",
        _reads("Get SMS rates"),
    ),
    ToolSpec(
        "quote_sms",
        "quotes",
        "Quote SMS price (free)",
        "sms:send",
        _reads("Quote SMS price (free)"),
    ),
    ToolSpec(
        "get_sms_status",
        "delivery",
        "Get SMS delivery status",
        "sms:send",
        _reads("Get SMS delivery status"),
    ),
    ToolSpec(
        "register_sender_id",
        "senders",
        "Register sender ID",
        "sender:write",
        _changes("Register sender ID"),
    ),
    ToolSpec(
        "register_msisdn_sender",
        "senders",
        "Register phone number as sender",
        "sender:write",
        _changes("Register phone number as sender"),
    ),
    ToolSpec(
        "confirm_msisdn_sender",
        "senders",
        "Confirm phone-number sender",
        "sender:write",
        _changes("Confirm phone-number sender"),
    ),
    ToolSpec(
        "lookup_hlr",
        "numbers",
        "HLR lookup (billable)",
        "hlr:lookup",
        _changes("HLR lookup (billable)"),
    ),
    ToolSpec(
        "get_operator",
        "numbers",
        "Get operator",
        "numbers:read",
        _reads("Get operator"),
    ),
    ToolSpec(
        "get_mcc_mnc_list",
        "numbers",
        "List MCC/MNC codes",
        "numbers:read",
        _reads("List MCC/MNC codes"),
    ),
    ToolSpec(
        "get_mobile_prefixes",
        "numbers",
        "Get mobile prefixes",
        "numbers:read",
        _reads("Get mobile prefixes"),
    ),
    ToolSpec(
        "correct_phone_number",
        "numbers",
        "Correct phone numbers",
        "numbers:read",
        _reads("Correct phone numbers"),
    ),
)
TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in TOOLS)
