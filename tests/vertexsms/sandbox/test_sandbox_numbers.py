"""The emulator's sample data and its pure number correction."""

from __future__ import annotations

import pytest

from vertex_stdio.vertexsms.sandbox.data import (
    COUNTRIES,
    COUNTRY_LIST,
    OPERATOR_LIST,
    country_of_msisdn,
    operators_of,
)
from vertex_stdio.vertexsms.sandbox.numbers import classify, correct, mobile_operator, mobile_prefixes
from vertex_stdio.vertexsms.sandbox.rest import mccmnc_rows


def test_data_covers_a_dozen_countries_consistently() -> None:
    """At least ten countries; unique operator ids; every operator's country, MCC and prefixes fit."""
    assert len(COUNTRY_LIST) >= 10
    assert len({o.id for o in OPERATOR_LIST}) == len(OPERATOR_LIST)
    assert len({c.calling_code for c in COUNTRY_LIST}) == len(COUNTRY_LIST)
    for op in OPERATOR_LIST:
        country = COUNTRIES[op.country]
        assert op.mcc[:2] == country.mcc[:2]
        assert op.mncs
        for prefix in op.prefixes:
            nsn = prefix.ljust(max(country.mobile_lengths), "5")
            assert classify(country, nsn) == "mobile", (op.name, prefix)
            assert mobile_operator(country, nsn) == op


def test_some_country_pages_mccmnc() -> None:
    """At least one country has more than one page (10 rows) of MCC/MNC pairs."""
    assert max(len(mccmnc_rows(c.iso2)) for c in COUNTRY_LIST) > 10


@pytest.mark.parametrize(
    ("raw", "country", "e164", "kind"),
    [
        ("861860698", "LT", "+37061860698", "mobile"),
        ("(370)-618-60698", "LT", "+37061860698", "mobile"),
        ("6186 0698", "LT", "+37061860698", "mobile"),
        ("+370 618 60698", "LT", "+37061860698", "mobile"),
        ("00370 618 60698", "LT", "+37061860698", "mobile"),
        ("370-618-60698", "LT", "+37061860698", "mobile"),
        ("8 5 212 3456", "LT", "+37052123456", "landline"),
        ("2612 3456", "LV", "+37126123456", "mobile"),
        ("5012 345", "EE", "+3725012345", "mobile"),
        ("601 234 567", "PL", "+48601234567", "mobile"),
        ("0151 2345 6789", "DE", "+4915123456789", "mobile"),
        ("030 1234567", "DE", "+49301234567", "landline"),
        ("07700 900123", "GB", "+447700900123", "mobile"),
        ("+44 (0)20 7946 0018", "GB", "+442079460018", "landline"),
        ("(212) 555-1234", "US", "+12125551234", "unknown"),
        ("1-212-555-1234", "US", "+12125551234", "unknown"),
        ("(202) 555-0123", "US", "+12025550123", "mobile"),
        ("011 370 61860698", "US", "+37061860698", "mobile"),
        ("06 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("08 12 34 56 78", "FR", None, None),
        ("06 07 12 34 56", "FR", "+33607123456", "mobile"),
        ("612 345 678", "ES", "+34612345678", "mobile"),
        ("512 345 678", "ES", None, None),
        ("617 345 678", "ES", "+34617345678", "mobile"),
        ("333 123 4567", "IT", "+393331234567", "mobile"),
        ("06 1234 5678", "IT", "+390612345678", "landline"),
        ("06 1234 5678", "NL", "+31612345678", "mobile"),
        ("070-123 45 67", "SE", "+46701234567", "mobile"),
        ("12", "LT", None, None),
        ("86186069x", "LT", None, None),
        ("+999 1234567", "LT", None, None),
        ("", "LT", None, None),
    ],
)
def test_correct(raw: str, country: str, e164: str | None, kind: str | None) -> None:
    """National, trunk-prefixed and international spellings all normalise to E.164."""
    result = correct(raw, country)
    assert result.number_e164 == e164
    assert result.input_number == raw
    if e164 is None:
        assert result.error
        assert (result.number_type, result.mobile) == ("unknown", False)
    else:
        assert result.error is None
        assert result.number_type == kind
        assert result.mobile == (kind == "mobile")


def test_an_international_number_reports_its_own_country() -> None:
    """'+44...' given as LT is a British number."""
    assert correct("+447700900123", "LT").country == "GB"


def test_mobile_prefixes_are_sorted_international_digits() -> None:
    """Prefixes start with the calling code and are sorted; the US has only the sandbox's 555-01xx blocks."""
    rows = mobile_prefixes("PL")
    assert [r.prefix for r in rows] == sorted(r.prefix for r in rows)
    assert all(r.prefix.startswith("48") for r in rows)
    assert [r.prefix for r in mobile_prefixes("US")] == ["120255501", "120655501", "141555501"]
    assert {r.operator for r in rows} == set(operators_of("PL"))


def test_country_of_msisdn_prefers_the_longest_calling_code() -> None:
    """370... is Lithuania, 1... the US, 999... nobody."""
    assert country_of_msisdn("37061860698") == COUNTRIES["LT"]
    assert country_of_msisdn("12125551234") == COUNTRIES["US"]
    assert country_of_msisdn("99912345") is None
