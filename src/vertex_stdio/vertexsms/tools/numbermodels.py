"""The types of the two number tools forwarded to the hosted server (``hosted.py``):
the country code, the numbers to correct, the corrections and the mobile prefixes.

Apart from ``models.py`` so that the lean call path (``vertexsms/leancall.py``), which answers
a first call before the SDK is loaded, builds only the few models it needs (importing all of
``models.py`` costs ~20 ms of CPU more, on the way to that first answer).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CountryCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code in capitals, e.g. LT, GB, US.",
        examples=["LT"],
    ),
]


class NumberToCorrect(BaseModel):
    number: Annotated[
        str,
        Field(min_length=1, max_length=40, description="The number as written: national or international."),
    ]
    country: CountryCode


class CorrectedNumber(BaseModel):
    model_config = ConfigDict(extra="allow")

    input_number: str
    country: str
    number_type: Literal["mobile", "landline", "unknown"]
    mobile: bool
    number_e164: str | None = Field(description="The number in E.164 form, or null if it is invalid.")
    error: str | None = Field(description="Why the number is invalid, or null.")


class CorrectionResult(BaseModel):
    """Validated and normalised numbers, in the order given."""

    count: int
    results: list[CorrectedNumber]


class MobilePrefix(BaseModel):
    model_config = ConfigDict(extra="allow")

    prefix: str = Field(description="International prefix digits without '+', e.g. 3706.")


class MobilePrefixesResult(BaseModel):
    """The mobile number prefixes of one country."""

    model_config = ConfigDict(extra="allow")

    country: str
    prefixes: list[MobilePrefix]
