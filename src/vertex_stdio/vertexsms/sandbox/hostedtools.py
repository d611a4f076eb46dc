"""The emulated hosted server's two tools, as plain functions: ``correct_phone_number`` and
``get_mobile_prefixes`` with their argument and result types.

The emulator's SDK server (``hosted.py``) serves them at ``/mcp``, and ``inprocess.py`` runs the
very same functions when ``serve --sandbox`` answers its first calls before the SDK is loaded,
so the two cannot answer differently.  Nothing here imports the SDK or starlette.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from vertex_stdio.core.errors import InvalidInput, VertexError
from vertex_stdio.vertexsms.links import with_links
from vertex_stdio.vertexsms.sandbox.data import COUNTRIES
from vertex_stdio.vertexsms.sandbox.numbers import correct, mobile_prefixes

HOSTED_SCOPE = "numbers:read"

CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. LT.")]


class NumberToCorrect(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=40, description="The number as written.")]
    country: CountryCode


NumbersToCorrect = Annotated[list[NumberToCorrect], Field(min_length=1, max_length=100)]


class CorrectedNumber(BaseModel):
    input_number: str
    country: str
    number_type: Literal["mobile", "landline", "unknown"]
    mobile: bool
    number_e164: str | None
    error: str | None


class CorrectionResult(BaseModel):
    count: int
    results: list[CorrectedNumber]


class PrefixRow(BaseModel):
    prefix: str = Field(description="International prefix digits without '+'.")
    operator: str
    mcc: str
    mnc: str


class PrefixesResult(BaseModel):
    country: str
    country_name: str
    calling_code: str
    prefixes: list[PrefixRow]


async def correct_phone_number(numbers: NumbersToCorrect) -> CorrectionResult:
    """Validate and normalise 1 to 100 phone numbers, each written for the given country."""
    return CorrectionResult(count=len(numbers), results=[_corrected(n) for n in numbers])


def _corrected(item: NumberToCorrect) -> CorrectedNumber:
    iso2 = item.country.upper()
    if iso2 not in COUNTRIES:
        why = f"Country {iso2} is not supported."
        return CorrectedNumber(
            input_number=item.number,
            country=iso2,
            number_type="unknown",
            mobile=False,
            number_e164=None,
            error=why,
        )
    fixed = correct(item.number, iso2)
    return CorrectedNumber(
        input_number=fixed.input_number,
        country=fixed.country,
        number_type=fixed.number_type,
        mobile=fixed.mobile,
        number_e164=fixed.number_e164,
        error=fixed.error,
    )


async def get_mobile_prefixes(country: CountryCode) -> PrefixesResult:
    """List a country's mobile number prefixes (international digits) with their operators."""
    iso2 = country.upper()
    info = COUNTRIES.get(iso2)
    if info is None:
        raise InvalidInput(f"Unknown country {iso2}: use an ISO 3166-1 alpha-2 code such as LT or GB.")
    rows = [
        PrefixRow(
            prefix=row.prefix, operator=row.operator.name, mcc=row.operator.mcc, mnc=row.operator.mncs[0]
        )
        for row in mobile_prefixes(iso2)
    ]
    return PrefixesResult(country=iso2, country_name=info.name, calling_code=info.calling_code, prefixes=rows)


def error_text(error: VertexError) -> str:
    """A failing call's text: the contract's JSON envelope, with its links."""
    return with_links(error).to_json()
