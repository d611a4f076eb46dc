"""The types of the two number tools forwarded to the hosted server (``hosted.py``):
the country code, the numbers to correct, the corrections and the mobile prefixes.

Apart from ``models.py`` so that the lean call path (``vertexsms/leancall.py``), which answers
a first call before the SDK is loaded, builds only the few models it needs (importing all of
``models.py`` costs ~20 ms of CPU more).  The lean call path itself loads them only when
``numbercheck.py``, their pydantic-free certified subset, is not sure of a value: then these
models decide (``checked_numbers``, ``checked_country``, ``validated``), as on the SDK path.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.vertexsms.api.outcomes import Operation

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


NumbersToCorrect = Annotated[
    list[NumberToCorrect],
    Field(min_length=1, max_length=100, description="1 to 100 numbers, each with its country."),
]


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


def sent_numbers(numbers: Sequence[NumberToCorrect]) -> list[dict[str, Any]]:
    """The numbers as the hosted server is sent them."""
    return [n.model_dump() for n in numbers]


def checked_numbers(value: object) -> list[dict[str, Any]] | None:
    """``sent_numbers`` of ``value`` validated as ``NumbersToCorrect``, as the SDK path validates
    it; None: refused (the SDK words why)."""
    try:
        return sent_numbers(_adapters()[0].validate_python(value))
    except ValidationError:
        return None


def checked_country(value: object) -> str | None:
    """``value`` validated as ``CountryCode``; None: refused (the SDK words why)."""
    try:
        country: str = _adapters()[1].validate_python(value)
    except ValidationError:
        return None
    return country


@functools.cache
def _adapters() -> tuple[TypeAdapter[Any], TypeAdapter[str]]:
    """The lean call path's argument types (built at its first need: the SDK path has its own)."""
    return TypeAdapter(NumbersToCorrect), TypeAdapter(CountryCode)


_M = TypeVar("_M", MobilePrefixesResult, CorrectionResult)


def validated(model: type[_M], data: dict[str, Any], op: Operation) -> _M:
    """The hosted server's answer ``data`` as ``model``, or the error of an unexpected shape."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamError(
            f"The hosted VertexSMS MCP server answered {op.tool} in an unexpected shape; try again later."
        ) from exc
