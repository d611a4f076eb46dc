"""The hosted number tools' arguments and answers, checked without pydantic: a certified subset.

The lean call path (``vertexsms/leancall.py``) answers a first call before the SDK is loaded, and
importing pydantic and building the models of ``numbermodels.py`` cost ~60-80 ms of CPU on the
way to that answer.  The models stay the truth: each check here accepts only values the models
certainly accept, and gives what they would give -- the arguments as ``model_dump`` sends them,
an answer as ``model_dump(mode="json", by_alias=True)`` writes it (declared fields in declared
order, then the extras a model keeps, in their order).  Anything else -- a wrong type, a
missing field, a float, a big integer, a lone surrogate, deep nesting -- is None: "not sure",
and the caller asks the models (which word a refusal as they always have).
``tests/vertexsms/test_numbercheck.py`` proves the identity against the models.

Nothing here imports pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_NUMBERS = 100  # NumbersToCorrect: 1 to 100
MAX_NUMBER_CHARS = 40  # NumberToCorrect.number: 1 to 40
NUMBER_TYPES = ("mobile", "landline", "unknown")  # CorrectedNumber.number_type
MAX_DEPTH = 16  # nesting of the JSON values kept as extras (deeper: the models decide)
MAX_INT = 2**63 - 1  # integers beyond: the models decide

_COUNTRY = re.compile(r"[A-Z]{2}")  # CountryCode's ^[A-Z]{2}$, matched whole (fullmatch)
_SURROGATE = re.compile("[\ud800-\udfff]")  # pydantic refuses, or keeps what JSON cannot write


def _text(value: object) -> str | None:
    """``value`` if it is exactly a ``str`` without lone surrogates."""
    if type(value) is str and not _SURROGATE.search(value):
        return value
    return None


def plain_country(value: object) -> str | None:
    """``CountryCode``'s value for ``value``, when certainly valid; None: not sure."""
    country = _text(value)
    return country if country is not None and _COUNTRY.fullmatch(country) else None


def plain_numbers(value: object) -> list[dict[str, str]] | None:
    """What ``NumbersToCorrect`` sends for ``value`` (``[n.model_dump() for n in numbers]``:
    each item's ``number`` and ``country``, other keys dropped), when certainly valid; None: not sure."""
    if type(value) is not list or not 1 <= len(value) <= MAX_NUMBERS:
        return None
    sent: list[dict[str, str]] = []
    for item in value:
        if type(item) is not dict:
            return None
        number, country = _text(item.get("number")), plain_country(item.get("country"))
        if number is None or country is None or not 1 <= len(number) <= MAX_NUMBER_CHARS:
            return None
        sent.append({"number": number, "country": country})
    return sent


def _json(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is kept and written alike by the models and by ``pydantic_core.to_json``
    on plain data: str, int (not beyond ``MAX_INT``), bool, None, and lists and str-keyed dicts
    of them -- no float (NaN, infinity, the forms of its digits), nothing deeper than ``MAX_DEPTH``."""
    if value is None or type(value) is bool:
        return True
    if type(value) is int:
        return -MAX_INT <= value <= MAX_INT
    if type(value) is str:
        return _text(value) is not None
    if depth >= MAX_DEPTH:
        return False
    if type(value) is list:
        return all(_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(_text(k) is not None and _json(v, depth + 1) for k, v in value.items())
    return False


_NO: Any = object()  # a field's check refused its value
_Check = Callable[[object], Any]  # a field's value as the model dumps it, or _NO


def _record(data: object, fields: dict[str, _Check], *, extra: bool) -> dict[str, Any] | None:
    """A model's dump of ``data`` when its ``fields`` (name: check) all pass: they in declared
    order, then (``extra``: the model keeps them) the other keys in their order."""
    if type(data) is not dict:
        return None
    dump: dict[str, Any] = {}
    for name, check in fields.items():
        value = check(data[name]) if name in data else _NO
        if value is _NO:
            return None
        dump[name] = value
    if extra:
        for key, value in data.items():
            if key not in fields:
                if _text(key) is None or not _json(value, 1):
                    return None
                dump[key] = value
    return dump


def _str(value: object) -> Any:
    text = _text(value)
    return _NO if text is None else text


def _optional_str(value: object) -> Any:
    return None if value is None else _str(value)


def _int(value: object) -> Any:
    return value if type(value) is int and -MAX_INT <= value <= MAX_INT else _NO


def _bool(value: object) -> Any:
    return value if type(value) is bool else _NO


def _number_type(value: object) -> Any:
    return value if type(value) is str and value in NUMBER_TYPES else _NO


def _list_of(check: Callable[[object], dict[str, Any] | None]) -> _Check:
    def items(value: object) -> Any:
        if type(value) is not list:
            return _NO
        dumps = [check(v) for v in value]
        return _NO if None in dumps else dumps

    return items


def _corrected(value: object) -> dict[str, Any] | None:
    """``CorrectedNumber`` (extras kept)."""
    fields: dict[str, _Check] = {
        "input_number": _str,
        "country": _str,
        "number_type": _number_type,
        "mobile": _bool,
        "number_e164": _optional_str,
        "error": _optional_str,
    }
    return _record(value, fields, extra=True)


def _prefix(value: object) -> dict[str, Any] | None:
    """``MobilePrefix`` (extras kept)."""
    return _record(value, {"prefix": _str}, extra=True)


def plain_correction(data: object) -> dict[str, Any] | None:
    """``CorrectionResult``'s dump of ``data`` (extras ignored), when certainly valid; None: not sure."""
    return _record(data, {"count": _int, "results": _list_of(_corrected)}, extra=False)


def plain_prefixes(data: object) -> dict[str, Any] | None:
    """``MobilePrefixesResult``'s dump of ``data`` (extras kept), when certainly valid; None: not sure."""
    return _record(data, {"country": _str, "prefixes": _list_of(_prefix)}, extra=True)
