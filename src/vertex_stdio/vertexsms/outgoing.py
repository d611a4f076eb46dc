"""What VertexSMS receives for a send, built in one place. Pure: no I/O.

The duplicate guard keys on what is sent, so the request body and the journal's key come from
the same ``OutgoingSms``; nothing else shapes either.  The rules, each applied to the request
itself (what VertexSMS receives *is* the key):

- **Recipient**: spaces, dashes, dots, slashes and parentheses go; ``+``, ``00`` (and ``011``
  for a North American ``correctBy``) mark an international number; with ``correctBy`` a
  national number loses its trunk prefix (``0``; ``8`` or ``0`` in Lithuania; ``06`` in Hungary…)
  and gains the country's calling code, here, so the request carries the corrected number
  and no ``correctBy``.  The result is international digits without ``+`` (as VertexSMS's
  examples write it); a number that still starts with ``0`` is national and needs ``correctBy``.
- **Text**: invisible format characters (zero-width space, word joiner, BOM, soft hyphen,
  bidi controls, Hangul fillers…) are removed, except a zero-width joiner or non-joiner
  between two non-ASCII characters (emoji sequences, Persian and Indic words need them); then
  Unicode NFC; then surrounding whitespace is trimmed.
- **Sender**: surrounding whitespace is trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from vertex_stdio.core.errors import InvalidInput
from vertex_stdio.vertexsms.dialcodes import CALLING_CODES

_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")
_JOINERS = frozenset("\u200c\u200d")
# Format characters that are visible (Arabic number signs and the like) or that build emoji
# (tag characters of subdivision flags): kept.
_VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2")
_HANGUL_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")

# Countries sharing a calling code with the one ``dialcodes`` names for it.
_SHARED_CODES = {
    **dict.fromkeys(
        (
            "CA", "PR", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN",
            "KY", "LC", "MP", "MS", "SX", "TC", "TT", "VC", "VG", "VI",
        ),
        "1",
    ),
    "KZ": "7", "GG": "44", "JE": "44", "IM": "44", "AX": "358", "SJ": "47", "VA": "39",
}  # fmt: skip
_NANP = "1"
# Trunk prefixes dialled before a national number, where not "0"; "" where there is none.
_TRUNKS: dict[str, tuple[str, ...]] = {
    "LT": ("8", "0"), "HU": ("06",), "RU": ("8",), "KZ": ("8",), "BY": ("8",),
    **dict.fromkeys(
        (
            "IT", "SM", "VA", "ES", "PT", "GR", "DK", "NO", "IS", "LU", "MT", "CY", "EE", "LV",
            "PL", "CZ", "MC", "AD", "FO", "GL", "SG", "HK", "MO", "QA", "BH", "KW", "OM", "MX",
        ),
        (),
    ),
}  # fmt: skip
# Where a national number may itself begin with the calling code (Italian mobiles 39x…), a
# number written with that code is only read as international when this many digits follow it.
_INTERNATIONAL_REST = {"IT": 9}
MIN_DIGITS, MAX_DIGITS = 7, 15


@dataclass(frozen=True)
class OutgoingSms:
    """One send as VertexSMS receives it: ``to`` (international digits), ``sender``, ``text``."""

    to: str
    sender: str
    text: str

    @property
    def e164(self) -> str:
        """The recipient with its ``+``: what people see, and the journal's recipient."""
        return "+" + self.to

    def body(self) -> dict[str, Any]:
        """The ``POST /sms`` (and ``/sms/cost``) body's recipient, sender and text."""
        return {"to": self.to, "from": self.sender, "message": self.text}


def outgoing(to: str, sender: str, text: str, correct_by: str | None = None) -> OutgoingSms:
    """The send made of these arguments; ``InvalidInput`` saying what to fix when one is unusable."""
    return OutgoingSms(destination(to, correct_by), sender_of(sender), sms_text(text))


def destination(raw: str, correct_by: str | None = None) -> str:
    """International digits (no ``+``) of ``raw``, corrected for ``correct_by`` when national."""
    text = _SEPARATORS.sub("", raw)
    country = correct_by.upper() if correct_by else None
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif country is not None and _code_of(country) == _NANP and text.startswith("011"):
        digits = text[3:]
    elif country is not None:
        digits = _national(text, country)
    elif text.startswith("0"):
        raise InvalidInput(
            f"The number {raw!r} is written nationally (it starts with 0). Give it in international "
            "form, e.g. +37060000001, or pass correctBy with its country, e.g. correctBy: LT."
        )
    else:
        digits = text
    if not digits.isascii() or not digits.isdigit() or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidInput(
            f"The number {raw!r} is not a phone number: after its calling code and spaces are read, "
            f"it must be {MIN_DIGITS} to {MAX_DIGITS} digits, e.g. +37060000001."
        )
    if digits.startswith("0"):
        raise InvalidInput(
            f"The number {raw!r} has no calling code after its international prefix: write the "
            "calling code first, e.g. +37060000001."
        )
    return digits


def _code_of(country: str) -> str | None:
    if country in _SHARED_CODES:
        return _SHARED_CODES[country]
    found = [code for code, iso in CALLING_CODES.items() if iso == country]
    return found[0] if found else None


def _national(text: str, country: str) -> str:
    """``text`` written for ``country``: trunk prefix off, calling code on (unless already there)."""
    code = _code_of(country)
    if code is None:
        raise InvalidInput(
            f"correctBy {country} is not a country whose calling code is known here: give the "
            "number in international form instead, e.g. +37060000001."
        )
    trunks = _TRUNKS.get(country, ("1",) if code == _NANP else ("0",))
    for trunk in trunks:
        if text.startswith(trunk) and len(text) > len(trunk):
            return code + text[len(trunk) :]
    if text.startswith(code) and len(text) - len(code) >= _INTERNATIONAL_REST.get(country, 7):
        return text
    return code + text


def sms_text(raw: str) -> str:
    """The text as sent: invisible characters out, NFC, trimmed; ``InvalidInput`` when nothing is left."""
    kept = [ch for ch in raw if not _invisible(ch)]
    joined = "".join(ch for i, ch in enumerate(kept) if ch not in _JOINERS or _joins(kept, i))
    text = unicodedata.normalize("NFC", joined).strip()
    if not text:
        raise InvalidInput(
            "The message is empty once invisible characters and surrounding spaces are removed."
        )
    return text


def _invisible(ch: str) -> bool:
    if ch in _JOINERS:
        return False  # decided by their neighbours
    if ch in _HANGUL_FILLERS:
        return True
    if unicodedata.category(ch) != "Cf" or ch in _VISIBLE_FORMAT:
        return False
    return not ("\U000e0020" <= ch <= "\U000e007f")  # tags: subdivision flag emoji


def _joins(chars: list[str], i: int) -> bool:
    """A joiner between two non-ASCII, non-space characters (an emoji or a script needs it)."""
    if i == 0 or i == len(chars) - 1:
        return False
    return all(
        not c.isascii() and not c.isspace() and c not in _JOINERS for c in (chars[i - 1], chars[i + 1])
    )


def sender_of(raw: str) -> str:
    """The sender as sent: trimmed; ``InvalidInput`` when blank."""
    sender = raw.strip()
    if not sender:
        raise InvalidInput("The sender (from) is blank: give a name of at most 11 characters or a number.")
    return sender
