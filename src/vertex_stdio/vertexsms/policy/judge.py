"""The policy's checks. Pure: no I/O (the time zone database aside).

``static_breach`` needs only the call (who, when); ``counted_breach`` also what the journal
already holds (``Usage``, summed inside the journal's write lock, so processes racing to the
same cap cannot both pass); ``needs_confirmation`` says whether a send needs a person's yes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from vertex_stdio.core.launcher import command
from vertex_stdio.vertexsms.dialcodes import country_of
from vertex_stdio.vertexsms.policy.rules import Policy
from vertex_stdio.vertexsms.policy.zones import quiet_zone, zones_of

# Calls that text a person (quiet hours apply) and calls billed per number (every other rule).
TEXTS_A_PERSON = frozenset({"send_sms"})


@dataclass(frozen=True)
class Breach:
    """A rule said no: ``rule``, its ``value``, ``where`` it is changed, and ``why`` in words."""

    rule: str
    value: object
    where: str
    why: str


@dataclass(frozen=True)
class Usage:
    """What the journal holds that may have gone out, for the caps of one new call."""

    recipient_day: int = 0
    recipient_hour: int = 0
    month_messages: int = 0
    month_eur: float = 0.0


def static_breach(policy: Policy, tool: str, recipient: str | None, now: float) -> Breach | None:
    """The first rule ``tool`` to ``recipient`` (E.164) at ``now`` breaks, without counting."""
    if policy.problem is not None:
        return Breach(
            "policy file",
            policy.problem,
            str(policy.path),
            f"the spending policy cannot be used: {policy.problem}",
        )
    if recipient is None:
        return None
    allowed = policy.get("allowed_recipients")
    if allowed is not None and not any(recipient.startswith(prefix) for prefix in allowed):
        listed = ", ".join(allowed) or "none"
        why = f"{recipient} is not among the allowed recipients ({listed})"
        return Breach("allowed_recipients", list(allowed), policy.where("allowed_recipients"), why)
    countries = policy.get("allowed_countries")
    country = country_of(recipient)
    if countries is not None and country not in countries:
        why = f"{recipient} is in {country or 'no known country'}, not in the allowed countries ({', '.join(countries) or 'none'})"
        return Breach("allowed_countries", list(countries), policy.where("allowed_countries"), why)
    span = policy.get("quiet_hours")
    if span is None or tool not in TEXTS_A_PERSON:
        return None
    return _quiet(policy, span, recipient, country, now)


def _quiet(policy: Policy, span: str, recipient: str, country: str | None, now: float) -> Breach | None:
    where = policy.where("quiet_hours")
    zones = zones_of(country) if country else ()
    if zones is None:
        why = "no time zone database is installed, so the recipient's local time is unknown (install the tzdata package)"
        return Breach("quiet_hours", span, where, why)
    if not zones:
        why = f"the local time of {recipient} is unknown (no time zone is known for its country)"
        return Breach("quiet_hours", span, where, why)
    found = quiet_zone(now, zones, span)
    if found is None:
        return None
    zone, clock = found
    return Breach(
        "quiet_hours",
        span,
        where,
        f"it is {clock} in {zone}, inside the quiet hours {span} of {recipient}'s country",
    )


def counted_breach(policy: Policy, price_eur: float | None, usage: Usage) -> Breach | None:
    """The first cap the new call (costing ``price_eur``) would cross, given ``usage``."""
    caps = (
        ("max_per_recipient_per_hour", usage.recipient_hour, "messages to this recipient in the last hour"),
        ("max_per_recipient_per_day", usage.recipient_day, "messages to this recipient in the last 24 h"),
        ("max_messages_per_month", usage.month_messages, "messages this calendar month"),
    )
    for rule, count, what in caps:
        cap = policy.get(rule)
        if cap and count + 1 > cap:
            return Breach(rule, cap, policy.where(rule), f"{count} {what} already; the cap is {cap}")
    cap = policy.get("max_eur_per_month")
    if cap:
        if price_eur is None:
            why = "its price is unknown, and a call of unknown price is never counted as €0 against the monthly cap"
            return Breach("max_eur_per_month", cap, policy.where("max_eur_per_month"), why)
        if usage.month_eur + price_eur > cap + 1e-9:
            why = f"€{usage.month_eur:.4f} spent this calendar month; €{price_eur:.4f} more would cross the cap of €{cap:g}"
            return Breach("max_eur_per_month", cap, policy.where("max_eur_per_month"), why)
    return None


def needs_confirmation(policy: Policy, price_eur: float | None, new_recipient: bool) -> bool:
    """Whether a send costing ``price_eur`` (None: unknown) needs a person's yes under the policy.

    Never when ``VERTEXSMS_CONFIRM_SENDS=0``; else when its price is unknown or above
    ``confirm_above_eur`` (``0``: every send), or when it goes to a number the journal has never
    sent to and ``confirm_new_recipients`` is on.
    """
    if policy.confirm_off:
        return False
    if (
        price_eur is None
        or price_eur > policy.get("confirm_above_eur")
        or policy.get("confirm_above_eur") == 0
    ):
        return True
    return bool(new_recipient and policy.get("confirm_new_recipients"))


def opted_out(recipient: str) -> Breach:
    """The refusal of a send to a number on the opt-out list."""
    why = f"{recipient} asked not to be texted (it is on the local opt-out list)"
    return Breach("optout", recipient, command(f"optout remove {shlex.quote(recipient)}"), why)
