"""Phone-number correction against the sample numbering plans in ``data``. Pure.

``correct(raw, iso2)`` turns a number written for a country (national with or without the
trunk prefix, international with ``+``, ``00``/``011`` or bare calling code, with spaces,
dashes, dots, slashes and parentheses) into E.164 and says whether it is a mobile or a
landline number, or why it is not valid.  The first reading of the digits that gives a
valid number wins: international-without-plus, then trunk-stripped, then as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from vertex_stdio.vertexsms.sandbox.data import COUNTRIES, Country, Operator, country_of_msisdn, operators_of

NumberType = Literal["mobile", "landline", "unknown"]

_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")
_NANP_NSN = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


@dataclass(frozen=True)
class Correction:
    """One corrected number: E.164 and type when valid, otherwise an explanation in ``error``."""

    input_number: str
    country: str
    number_type: NumberType
    number_e164: str | None
    error: str | None

    @property
    def mobile(self) -> bool:
        """True only for a valid mobile number."""
        return self.number_type == "mobile" and self.error is None


def classify(country: Country, nsn: str) -> NumberType | None:
    """The type of a national significant number, or None when it is not valid there."""
    if country.nanp:
        if not _NANP_NSN.fullmatch(nsn):
            return None
        return "mobile" if mobile_operator(country, nsn) is not None else "unknown"
    if len(nsn) in country.mobile_lengths and nsn.startswith(country.mobile_ranges):
        return "mobile"
    if len(nsn) in country.landline_lengths and nsn.startswith(country.landline_prefixes):
        return "landline"
    return None


def mobile_operator(country: Country, nsn: str) -> Operator | None:
    """The operator whose original mobile range holds ``nsn`` (longest prefix wins)."""
    best: tuple[int, Operator] | None = None
    for operator in operators_of(country.iso2):
        for prefix in operator.prefixes:
            if nsn.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), operator)
    return best[1] if best else None


def correct(raw: str, iso2: str) -> Correction:
    """Correct ``raw`` as written for ``iso2`` (a country in ``data.COUNTRIES``)."""
    country = COUNTRIES[iso2]
    text = _SEPARATORS.sub("", raw)

    def fail(why: str) -> Correction:
        return Correction(raw, iso2, "unknown", None, why)

    if not text:
        return fail("The number is empty.")
    international = _international_digits(text, country)
    if international is not None:
        if not international.isdigit():
            return fail(
                "The number may contain only digits, spaces, dashes, dots, parentheses and a leading '+'."
            )
        return _from_international(raw, iso2, international)
    if not text.isdigit():
        return fail(
            "The number may contain only digits, spaces, dashes, dots, parentheses and a leading '+'."
        )
    for nsn in _national_readings(text, country):
        kind = classify(country, nsn)
        if kind is not None:
            return Correction(raw, iso2, kind, "+" + country.calling_code + nsn, None)
    return fail(f"Not a valid {country.name} number: check the digits ({len(text)} given) and the country.")


def _international_digits(text: str, country: Country) -> str | None:
    """The digits after an international prefix ('+', '00', or '011' in NANP), if written."""
    if text.startswith("+"):
        return text[1:]
    if text.startswith("00"):
        return text[2:]
    if country.nanp and text.startswith("011"):
        return text[3:]
    return None


def _national_readings(text: str, country: Country) -> list[str]:
    """Candidate national significant numbers, most specific reading first."""
    readings = []
    if text.startswith(country.calling_code):
        readings.append(text[len(country.calling_code) :])
    if country.trunk_prefix and text.startswith(country.trunk_prefix):
        readings.append(text[len(country.trunk_prefix) :])
    readings.append(text)
    return readings


def _from_international(raw: str, iso2: str, digits: str) -> Correction:
    """Correct a number written internationally; its own calling code decides the country."""
    country = country_of_msisdn(digits)
    if country is None:
        return Correction(raw, iso2, "unknown", None, "The calling code is not one the sandbox knows.")
    nsn = digits[len(country.calling_code) :]
    if country.trunk_prefix == "0" and nsn.startswith("0"):
        nsn = nsn[1:]  # "+44 (0)20 ..." is a common way of writing it
    kind = classify(country, nsn)
    if kind is None:
        why = f"Not a valid {country.name} number: check the digits after +{country.calling_code}."
        return Correction(raw, country.iso2, "unknown", None, why)
    return Correction(raw, country.iso2, kind, "+" + digits[: len(country.calling_code)] + nsn, None)


@dataclass(frozen=True)
class MobilePrefix:
    """One international mobile prefix (digits without '+') and the operator it was given to."""

    prefix: str
    operator: Operator


def mobile_prefixes(iso2: str) -> list[MobilePrefix]:
    """The mobile prefixes of a country in ``data.COUNTRIES``, sorted by prefix."""
    country = COUNTRIES[iso2]
    rows = [
        MobilePrefix(country.calling_code + prefix, operator)
        for operator in operators_of(iso2)
        for prefix in operator.prefixes
    ]
    return sorted(rows, key=lambda row: row.prefix)
