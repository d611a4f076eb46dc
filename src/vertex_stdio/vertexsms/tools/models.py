"""Typed inputs and outputs of the ten tools: the schemas the model sees come from here (the
hosted number tools' from ``numbermodels.py``)."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field

# --- inputs -------------------------------------------------------------------------

PhoneNumber = Annotated[
    str,
    Field(
        pattern=r"^\+?[0-9]{6,15}$",
        description=(
            "Phone number in international E.164 form, e.g. +37069912345 (a leading + is optional; "
            "digits only, no spaces)."
        ),
        examples=["+37069912345"],
    ),
]
Recipient = Annotated[
    str,
    Field(
        pattern=r"^\+?(?:[ ().\-]*[0-9]){7,17}[ ().\-]*$",
        description=(
            "Recipient in international form, e.g. +37069912345 (the + is optional; spaces, dashes and "
            "parentheses are ignored; 00 works as +). A national number needs correctBy."
        ),
        examples=["+37069912345"],
    ),
]
CorrectBy = Annotated[
    str | None,
    Field(
        pattern=r"^[A-Z]{2}$",
        description=(
            "ISO 3166-1 alpha-2 country of a national number, e.g. LT turns 060000001 or 60000001 "
            "into +37060000001; applied before sending (the request carries the corrected number)."
        ),
    ),
]
# One rule for alphanumeric senders.  VertexSMS checks ``from`` on POST /sms against "at most 11
# Latin letters, digits, spaces or dots", and documents registration (POST /senderId) as 3 to 11
# characters of letters, digits and "- _ & # !".  A name is only useful if both accept it, so
# register_sender_id takes what the two rules share, 3 to 11 Latin letters or digits, and every
# name it files can later be used as send_sms ``from``.
SENDER_RULE = "Latin letters, digits, spaces or dots"
SENDER_FROM_PATTERN = r"^(\+?[0-9]{3,15}|[A-Za-z0-9 .]{1,11})$"
SenderFrom = Annotated[
    str,
    Field(
        validation_alias="from",
        min_length=1,
        max_length=15,
        pattern=SENDER_FROM_PATTERN,
        description=f"Sender: a name of at most 11 {SENDER_RULE}, or a registered phone number.",
    ),
]
SenderName = Annotated[
    str,
    Field(
        min_length=3,
        max_length=11,
        pattern=r"^[A-Za-z0-9]{3,11}$",
        description=(
            "3 to 11 Latin letters or digits: what both VertexSMS's registration and send_sms `from` "
            "accept, so the approved name works as `from`."
        ),
        examples=["ACME"],
    ),
]
# Names that never reach a public host: RFC 6761/6762 and the usual private suffixes.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form a URL parser accepts (``127.1``, ``0x7f000001``)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not re.fullmatch(r"[0-9a-fA-FxX.]+", host):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def public_url(url: str) -> str:
    """``url`` when its host may be a public one; a loopback, private or local host is refused.

    VertexSMS calls these URLs from the internet: a private address can never receive the result
    and would point VertexSMS at someone's internal network.  Names are judged by their form only
    (no DNS lookup): IP literals in every spelling, ``localhost`` and local suffixes.
    """
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("the URL has no host")
    address = _ip_of(host)
    local = host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or ("." not in host and address is None)
    if local or (address is not None and not address.is_global):
        raise ValueError(
            f"{host} is a loopback, private or local address, which VertexSMS cannot reach from the "
            "internet; give a public URL (e.g. https://example.com/hooks/hlr)"
        )
    return url


HttpsUrl = Annotated[
    str,
    Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="An http(s) URL that VertexSMS can reach from the internet (not a loopback or private address).",
    ),
    AfterValidator(public_url),
]

# --- outputs ------------------------------------------------------------------------


SENT_NOTE = (
    "sent = accepted by VertexSMS, not delivered; use get_sms_status with this message_id "
    "to see whether it arrived."
)


PRICE_SOURCE = (
    "Where price_eur comes from: VertexSMS's quote, or the rate card's highest rate for the "
    "destination country when VertexSMS gave no quote."
)


class SendSmsResult(BaseModel):
    """A message accepted by VertexSMS."""

    message_id: str = Field(description="VertexSMS message ID; get_sms_status and delivery reports use it.")
    status: Literal["sent"] = Field(
        description="Always 'sent': VertexSMS accepted the message (not delivered)."
    )
    parts: int = Field(description="SMS parts billed (long texts are split into several parts).")
    destination: str = Field(description="The recipient in E.164 form, e.g. +37069912345.")
    price_eur: float | None = Field(default=None, description="What the message costs in EUR, when known.")
    price_source: str | None = Field(default=None, description=PRICE_SOURCE)
    note: str = Field(default=SENT_NOTE, description="What 'sent' means.")


class Rate(BaseModel):
    operator: str = Field(description="Operator name, or 'All'/'All other carriers' for default routes.")
    network: str = Field(description="Network name as VertexSMS lists it.")
    rate_eur: str = Field(description="Price per SMS part in EUR, as a decimal string.")
    mcc: str | None = Field(description="Mobile country code.")
    mnc: str | None = Field(description="Mobile network code, or null for a default route.")


class RatesResult(BaseModel):
    """SMS prices for one country."""

    country: str
    country_name: str
    rates: list[Rate]
    cache_age_seconds: int = Field(description="How old the cached rate card is (it is kept for an hour).")


class OperatorResult(BaseModel):
    """A mobile operator known to VertexSMS."""

    operator_id: int
    name: str
    country: str = Field(description="ISO 3166-1 alpha-2 country code.")
    mcc: str = Field(description="Mobile country code.")
    mnc: list[str] = Field(description="The operator's mobile network codes.")


class MccMncItem(BaseModel):
    country: str
    mcc: str
    mnc: str
    operator_id: int | None = Field(description="VertexSMS operator ID; use it with get_operator.")


class MccMncPage(BaseModel):
    """One page of a country's MCC/MNC list."""

    country: str
    page: int
    items: list[MccMncItem]
    next_page: int | None = Field(description="The page to ask for next, or null when this page is empty.")


class SenderIdResult(BaseModel):
    """An alphanumeric sender ID submitted for review."""

    sender_id: int
    name: str
    type: Literal["AlphaNumeric"]
    status: Literal["submitted"]
    next: str


class MsisdnSenderResult(BaseModel):
    """A phone number registered as a sender, waiting for its PIN."""

    sender_id: int
    msisdn: str
    type: Literal["MSISDN"]
    status: Literal["pin_sent"]
    next: str
    price_eur: float | None = Field(
        default=None, description="What the PIN SMS is counted as in EUR (one SMS part to the number)."
    )
    price_source: str | None = Field(default=None, description=PRICE_SOURCE)


class ConfirmSenderResult(BaseModel):
    """A phone-number sender confirmed with its PIN."""

    sender_id: int
    confirmed: bool


class HlrResult(BaseModel):
    """An HLR lookup accepted; the answer is delivered to the callback URL."""

    lookup_id: int
    msisdn: str
    status: Literal["submitted"]
    callback_url: str
    note: str
    price_eur: float | None = Field(
        default=None,
        description="What the lookup is counted as in EUR: VertexSMS publishes no HLR price, so one "
        "SMS part to the number.",
    )
    price_source: str | None = Field(default=None, description=PRICE_SOURCE)


class QuoteResult(BaseModel):
    """What a message would cost; nothing was sent."""

    parts: int = Field(description="SMS parts the message is split into (each is billed).")
    encoding: Literal["GSM-7", "UCS-2"]
    price_per_part_eur: float | None = Field(description="Price of one part in EUR, when known.")
    total_eur: float | None = Field(description="Price of the whole message in EUR, when known.")
    currency: str = "EUR"
    country: str | None = Field(default=None, description="Destination country (ISO 3166-1 alpha-2).")
    mcc: str | None = None
    mnc: str | None = None
    source: Literal["vertexsms", "estimate"] = Field(
        description="'vertexsms': VertexSMS's quote; 'estimate': our part count times the rate card."
    )
    note: str


class JournalEntry(BaseModel):
    """What the local send journal recorded about a send."""

    time: str = Field(description="When it was sent, in local time (ISO 8601).")
    outcome: str = Field(description="pending, sent, refused, unknown or not_sent.")
    kind: str = Field(description="real, test (VERTEXSMS_TEST_MODE) or sandbox.")
    recipient: str | None
    sender: str | None
    parts: int | None
    price_eur: float | None
    price_source: str | None = Field(
        default=None, description="Where the journal's price came from: VertexSMS's quote or the rate card."
    )


class SmsStatusResult(BaseModel):
    """The delivery status of one message."""

    message_id: str
    status: Literal["pending", "delivered", "undelivered", "seen", "expired", "unknown"]
    status_code: int | None = Field(
        description="VertexSMS's numeric status (1 delivered, 2 undelivered, ...)."
    )
    error_code: int | None = Field(description="VertexSMS's numeric error code (0 = none).")
    error: str | None = Field(description="The error code in words.")
    reported_at: str | None = Field(description="When the delivery report arrived, when VertexSMS says.")
    journal: JournalEntry | None = Field(description="The local journal's record of this send, if any.")
