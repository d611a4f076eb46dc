"""Dial codes: every country the rate card can name is found from a number's digits."""

from __future__ import annotations

import pytest

from vertex_stdio.vertexsms.dialcodes import CALLING_CODES, SHARED_RANGES, country_of
from vertex_stdio.vertexsms.sandbox.data import COUNTRY_LIST, sample_number
from vertex_stdio.vertexsms.sandbox.rest import rate_rows


def test_every_country_on_the_sandbox_rate_card_is_found_from_its_sample_number() -> None:
    """The card's countries, each from the README's sample number for it."""
    on_card = {str(r["CountryCode"]) for r in rate_rows()}
    assert on_card == {c.iso2 for c in COUNTRY_LIST}
    assert {iso2: country_of(sample_number(iso2)) for iso2 in on_card} == {iso2: iso2 for iso2 in on_card}


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+12025550123", "US"),
        ("14165550123", "CA"),  # Toronto
        ("+18765550123", "JM"),
        ("+17875550123", "PR"),
        ("+79161234567", "RU"),
        ("+77011234567", "KZ"),
        ("+447911123456", "GG"),
        ("+447400123456", "GB"),
        ("+35818123456", "AX"),
        ("+358401234567", "FI"),
        ("+262639123456", "YT"),
        ("+262692123456", "RE"),
        ("+5997012345", "BQ"),
        ("+59995123456", "CW"),
        ("+819012345678", "JP"),
        ("+8613812345678", "CN"),
        ("+85291234567", "HK"),
        ("+2348031234567", "NG"),
        ("+27821234567", "ZA"),
        ("+5511912345678", "BR"),
        ("+61412345678", "AU"),
        ("+6421123456", "NZ"),
        ("+971501234567", "AE"),
        ("+38344123456", "XK"),
        ("+6891234567", "PF"),
    ],
)
def test_numbers_of_the_world(number: str, country: str) -> None:
    """Numbers as people write them internationally, across every zone and the shared codes."""
    assert country_of(number) == country


def test_national_or_unassigned_digits_name_no_country() -> None:
    """A code no country has (+0…, +28…, +80…) is None, never a guess."""
    assert [country_of(d) for d in ("060000001", "2812345", "80012345")] == [None, None, None]


def test_the_tables_are_well_formed() -> None:
    """Digits only, upper-case ISO codes, and every shared range sits inside a listed code."""
    for prefix, iso2 in {**CALLING_CODES, **SHARED_RANGES}.items():
        assert prefix.isdigit()
        assert len(iso2) == 2
        assert iso2.isupper()
    assert all(country_of(prefix[:-1] + "0" * 3) is not None for prefix in SHARED_RANGES)
    assert len(set(CALLING_CODES.values())) > 200
    # One calling code per country, so correctBy's country gives one code (outgoing._code_of).
    assert len(set(CALLING_CODES.values())) == len(CALLING_CODES)
