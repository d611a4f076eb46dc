"""Validation of REST request bodies, as VertexSMS does it. Pure; failures raise ``ApiError``.

Messages follow the real API where it is documented (the sender rule on ``POST /sms``,
"Country/operator not configured for the account") and say what to fix elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vertex_stdio.vertexsms.sandbox.data import COUNTRIES, country_of_msisdn
from vertex_stdio.vertexsms.sandbox.numbers import correct
from vertex_stdio.vertexsms.sandbox.state import ApiError
from vertex_stdio.vertexsms.smsparts import count_parts

SENDER_RULE = (
    "The sender must be a valid MSISDN or alphanumeric with at most 11 characters "
    "(Latin letters, digits, spaces and dots)"
)
NOT_CONFIGURED = "Country/operator not configured for the account"
CATEGORIES = ("Company", "Product", "Brand", "Shortcode", "Landline", "Other")

_MSISDN = re.compile(r"\d{7,15}")
_ALPHA_FROM = re.compile(r"[A-Za-z0-9 .]{1,11}")
_SENDER_NAME = re.compile(r"[A-Za-z0-9\-_&#!]{3,11}")
_UDH = re.compile(r"(%[0-9A-Fa-f]{2})+")
_URL = re.compile(r"https?://[^\s/]+\S*")


@dataclass(frozen=True)
class SmsOrder:
    """An accepted ``POST /sms``: the international recipient digits and the part count."""

    to: str
    parts: int


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A string field: 400 when required and missing, or present and not a string."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"The {name} field is required.")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"The {name} field must be a string.")
    return value


def msisdn(value: str, field: str) -> str:
    """International digits (a leading '+' is tolerated) of a reachable country."""
    digits = value.strip().removeprefix("+")
    if not _MSISDN.fullmatch(digits):
        raise ApiError(
            400, f"The {field} must be an international number of 7 to 15 digits, e.g. 37069912345."
        )
    if country_of_msisdn(digits) is None:
        raise ApiError(400, NOT_CONFIGURED)
    return digits


def url(body: dict[str, Any], name: str, *, required: bool) -> None:
    value = text_field(body, name, required=required)
    if value is not None and not _URL.fullmatch(value):
        raise ApiError(400, f"The {name} field must be an http(s) URL.")


def check_sms(body: dict[str, Any]) -> SmsOrder:
    """Validate a ``POST /sms`` body; return the recipient and the number of parts."""
    to = text_field(body, "to") or ""
    sender = text_field(body, "from") or ""
    message = text_field(body, "message") or ""
    if (
        not (_MSISDN.fullmatch(sender.removeprefix("+")) or _ALPHA_FROM.fullmatch(sender))
        or not sender.strip()
    ):
        raise ApiError(400, SENDER_RULE)
    if not message:
        raise ApiError(400, "The message must not be empty.")
    _check_sms_options(body)
    corrector = text_field(body, "correctBy", required=False)
    if corrector is not None:
        to = _corrected(to, corrector)
    return SmsOrder(to=msisdn(to, "recipient (to)"), parts=_parts(body, message))


def _check_sms_options(body: dict[str, Any]) -> None:
    if body.get("priority") is not None and body["priority"] not in ("high", "normal", "low"):
        raise ApiError(400, "The priority must be high, normal or low.")
    scheduled = text_field(body, "scheduled", required=False)
    if scheduled is not None:
        try:
            datetime.fromisoformat(scheduled)
        except ValueError:
            raise ApiError(
                400, "The scheduled time must be ISO 8601, e.g. 2015-01-01T13:00:00+02:00."
            ) from None
    if body.get("coding") is not None and (_int(body["coding"]) not in (0, 1, 2)):
        raise ApiError(400, "The coding must be 0 (GSM-7), 1 (8-bit) or 2 (UCS-2).")
    expire = body.get("expireIn")
    if expire is not None and not (360 <= (_int(expire) or 0) <= 432000):
        raise ApiError(400, "The expireIn must be a whole number of seconds from 360 to 432000.")
    if body.get("testMode") is not None and body["testMode"] not in ("1", "2"):
        raise ApiError(400, 'The testMode must be "1" (emulate delivery) or "2" (emulate failure).')
    udh = text_field(body, "udh", required=False)
    if udh is not None and not _UDH.fullmatch(udh):
        raise ApiError(400, "The udh must be hex pairs, each prefixed with %.")
    if udh is not None and body.get("coding") is None:
        raise ApiError(400, "The udh field requires coding.")
    url(body, "dlrUrl", required=False)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _corrected(to: str, iso2: str) -> str:
    if iso2.upper() not in COUNTRIES:
        raise ApiError(
            400, "The correctBy must be an ISO 3166-1 alpha-2 code of a country the account can reach."
        )
    fixed = correct(to, iso2.upper())
    if fixed.number_e164 is None:
        raise ApiError(400, f"The recipient could not be corrected for {iso2.upper()}: {fixed.error}")
    return fixed.number_e164


def _parts(body: dict[str, Any], message: str) -> int:
    """Parts billed: automatic splitting unless udh/coding turn it off."""
    if body.get("udh") is not None:
        return 1
    if body.get("coding") is not None:
        if count_parts(message) > 1:
            raise ApiError(
                400, "With coding and no udh the message must fit in one part; add udh or drop coding."
            )
        return 1
    return count_parts(message)


def check_alpha_sender(body: dict[str, Any]) -> str:
    """Validate an AlphaNumeric ``POST /senderId`` body; return the name."""
    name = text_field(body, "name") or ""
    if not _SENDER_NAME.fullmatch(name):
        raise ApiError(400, "The name must be 3 to 11 characters: Latin letters, digits and - _ & # !")
    if body.get("category") not in CATEGORIES:
        raise ApiError(400, "The category must be one of " + ", ".join(CATEGORIES) + ".")
    if not (text_field(body, "categoryDescription") or "").strip():
        raise ApiError(400, "The categoryDescription must say why you may use this name.")
    url(body, "notificationUrl", required=False)
    return name


def check_msisdn_sender(body: dict[str, Any]) -> str:
    """Validate an MSISDN ``POST /senderId`` body; return the number's digits."""
    return msisdn(text_field(body, "name") or "", "name")


def check_hlr(body: dict[str, Any]) -> str:
    """Validate a ``POST /hlr`` body; return the number's digits."""
    digits = msisdn(text_field(body, "msisdn") or "", "msisdn")
    url(body, "callBackUrl", required=True)
    return digits
