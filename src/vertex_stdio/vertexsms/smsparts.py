"""Counting SMS parts: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part). Pure."""

from __future__ import annotations

from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM 03.38 alphabet, else UCS-2."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return "GSM-7"
    return "UCS-2"


def septets(text: str) -> int:
    """GSM-7 length: characters of the extension table take two septets."""
    return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)


def utf16_units(text: str) -> int:
    """UCS-2/UTF-16 length: characters outside the BMP take two units."""
    return len(text.encode("utf-16-le")) // 2


def count_parts(text: str) -> int:
    """How many SMS parts VertexSMS splits ``text`` into (at least 1)."""
    if encoding_of(text) == "GSM-7":
        length, single, multi = septets(text), 160, 153
    else:
        length, single, multi = utf16_units(text), 70, 67
    if length <= single:
        return 1
    return -(-length // multi)
