"""``tools/numbercheck.py`` against the models it stands in for: whenever it is sure, it is right.

The lean call path checks the two hosted tools' arguments and answers without pydantic
(issue 22: importing it cost ~60-80 ms of the first call's CPU).  For every value generated --
valid ones, and nasty ones: unicode, NFD, control characters, lone surrogates, missing, extra
and mistyped keys, big integers, floats, NaN, deep nesting -- a check that answers must give
exactly what the models give: the arguments the hosted server is sent, and an answer's text
(byte for byte) and structured content (keys in the same order).  Where it is not sure (None),
the models decide, so only "sure" is tested here -- and that it is sure of the plain cases.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from vertex_stdio.vertexsms.results import dumped_parts, result_parts
from vertex_stdio.vertexsms.tools.numbercheck import (
    NUMBER_TYPES,
    plain_correction,
    plain_country,
    plain_numbers,
    plain_prefixes,
)
from vertex_stdio.vertexsms.tools.numbermodels import (
    CorrectionResult,
    CountryCode,
    MobilePrefixesResult,
    NumbersToCorrect,
    sent_numbers,
)

NUMBERS: TypeAdapter[Any] = TypeAdapter(NumbersToCorrect)
COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)
CHECKS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ODD_TEXTS = [
    "",
    "LT",
    "LT\n",
    "\nLT",
    "LT ",
    "lt",
    "Lt",
    "\uff2c\uff34",  # fullwidth LT
    "\u00c0B",
    "L\u0301T",
    "LTU",
    "L",
    "\x00",
    "\u2028",
    "8" * 40,
    "8" * 41,
    "\U0001f642" * 40,
    "\U0001f642" * 41,
    "e\u0301" * 20,
    "e\u0301" * 21,
    "\ud800",
    "LT\udfff",
    "\ufeffLT",
]
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=45),
    st.text(st.one_of(st.characters(), surrogates), max_size=45),
    st.text(max_size=45).map(lambda t: unicodedata.normalize("NFD", t)),
    st.sampled_from(ODD_TEXTS),
)
big_ints = st.sampled_from([2**63 - 1, 2**63, -(2**63), 2**64, 10**400, -(10**30)])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    big_ints,
    st.floats(),  # NaN and the infinities too
    st.sampled_from([0.0, -0.0, 1.0, 1e16, 5e-324]),
    texts,
)
keys = st.one_of(
    st.text(max_size=8),
    texts,
    st.sampled_from(["_x", "__a", "model_config", "model_fields", "__pydantic_extra__", "count", "prefix"]),
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


values = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    ),
    st.integers(0, 24).map(_nested),
)


plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
extras = st.integers(0, 2).flatmap(  # extra keys: mostly of values a check is sure of, at times of any
    lambda i: (
        st.dictionaries(keys, values, max_size=3)
        if i == 0
        else st.dictionaries(st.text(max_size=8), plain_values, max_size=3)
    )
)
LAX = [
    0,
    1,
    True,
    False,
    "true",
    "1",
    1.0,
    0.0,
    "mobile",
    b"LT",
    ("LT",),
]  # what pydantic's lax mode may convert
spoilers = st.one_of(values, st.sampled_from(LAX))


def _mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times in four, else ``other``."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 3 else valid)


def _or_lax(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, at times a value pydantic's lax mode converts to a valid one."""
    return _mostly(valid, st.sampled_from(LAX))


@st.composite
def records(
    draw: st.DrawFn, valid: dict[str, st.SearchStrategy[Any]], *, spoil: bool = True
) -> dict[str, Any]:
    """A JSON object of ``valid`` fields -- in one of four (``spoil``) one of them dropped or
    spoiled --, extra keys added, the keys in any order."""
    record = {name: draw(strategy) for name, strategy in valid.items()}
    if spoil and draw(st.integers(0, 3)) == 3:
        name = draw(st.sampled_from(list(valid)))
        if draw(st.booleans()):
            del record[name]
        else:
            record[name] = draw(spoilers)
    for key, value in draw(extras).items():
        record.setdefault(key, value)
    return dict(draw(st.permutations(list(record.items()))))


countries = st.one_of(st.from_regex(r"[A-Z]{2}", fullmatch=True), texts, values)
items = records(
    {"number": st.one_of(texts, st.sampled_from(["861860698", "+370 618 60698"])), "country": countries}
)
plain_items = st.lists(
    records(
        {"number": st.text(max_size=42), "country": st.from_regex(r"[A-Z]{2}", fullmatch=True)}, spoil=False
    ),
    min_size=1,
    max_size=4,
)
numbers = st.one_of(
    plain_items,  # mostly valid: the checks are sure of most, and must be right
    st.lists(st.one_of(items, values), max_size=4),
    st.tuples(items, st.sampled_from([99, 100, 101])).map(lambda t: [t[0]] * t[1]),
    values,
)
fields = st.integers(0, 2).flatmap(lambda i: texts if i == 2 else st.text())  # mostly a plain text
optional_fields = st.one_of(st.none(), fields)
corrected = records(
    {
        "input_number": fields,
        "country": fields,
        "number_type": _or_lax(st.sampled_from(NUMBER_TYPES)),
        "mobile": _or_lax(st.booleans()),
        "number_e164": optional_fields,
        "error": optional_fields,
    }
)
corrections = records(
    {
        "count": _or_lax(st.one_of(st.integers(0, 100), st.integers(), big_ints)),
        "results": st.lists(corrected, max_size=3),
    }
)
prefixes = records({"country": fields, "prefixes": st.lists(records({"prefix": fields}), max_size=3)})


def _same(fast: Any, models: Any) -> None:
    """Equal, with the same key order and the same types (``json.dumps`` writes 1 and true apart)."""
    assert fast == models
    assert json.dumps(fast) == json.dumps(models)


@CHECKS
@given(numbers)
@example([{"number": "861860698", "country": "LT", "x": 1.5}])
@example([{"country": "LT", "number": "8" * 40}] * 100)
@example([{"country": "LT", "number": "8" * 41}])
@example([{"country": "LT", "number": "8"}] * 101)
def test_the_numbers_sent_are_the_models(value: Any) -> None:
    sent = plain_numbers(value)
    if sent is None:
        return
    _same(sent, sent_numbers(NUMBERS.validate_python(value)))


@CHECKS
@given(countries)
def test_a_country_is_the_models(value: Any) -> None:
    country = plain_country(value)
    if country is None:
        return
    _same(country, COUNTRY.validate_python(value))


def _correction(**changes: Any) -> dict[str, Any]:
    """A plain correction of one number, the item's fields (or ``count``) changed."""
    item = {
        "input_number": "861860698",
        "country": "LT",
        "number_type": "mobile",
        "mobile": True,
        "number_e164": "+37061860698",
        "error": None,
    }
    return {"count": changes.pop("count", 1), "results": [{**item, **changes}]}


@CHECKS
@given(corrections)
@example(_correction(mobile=1))  # pydantic's lax mode: true
@example(_correction(count=True))  # 1
@example(_correction(count="1"))
@example(_correction(number_e164=5))
@example(_correction(error=False))
@example(_correction(number_type="Mobile"))
@example(_correction(extra=1.5))
@example({"results": [], "count": 0, "ignored": 1})
@example({"results": []})
def test_a_correction_is_written_as_the_models(data: Any) -> None:
    dump = plain_correction(data)
    if dump is None:
        return
    text, structured = result_parts(CorrectionResult.model_validate(data))
    assert dumped_parts(dump)[0] == text
    _same(dump, structured)


@CHECKS
@given(prefixes)
def test_mobile_prefixes_are_written_as_the_models(data: Any) -> None:
    dump = plain_prefixes(data)
    if dump is None:
        return
    text, structured = result_parts(MobilePrefixesResult.model_validate(data))
    assert dumped_parts(dump)[0] == text
    _same(dump, structured)


PLAIN_CORRECTION = {
    "count": 2,
    "results": [
        {
            "zz": {"a": [1, None, True, "\u00e9"]},
            "error": None,
            "mobile": True,
            "number_type": "mobile",
            "country": "LT",
            "input_number": "8618 60698",
            "number_e164": "+37061860698",
            "_x": -5,
        },
        {
            "input_number": "12",
            "country": "LT",
            "number_type": "unknown",
            "mobile": False,
            "number_e164": None,
            "error": "Too short \u2028 \U0001f642",
        },
    ],
    "ignored": "by CorrectionResult",
}
PLAIN_PREFIXES = {
    "note": "\u00fc",
    "country": "LT",
    "prefixes": [{"prefix": "37061", "operator": 'Telia "Lietuva"', "mnc": "01"}],
    "calling_code": "370",
}


@pytest.mark.parametrize(
    ("check", "data", "model"),
    [
        (plain_correction, PLAIN_CORRECTION, CorrectionResult),
        (plain_prefixes, PLAIN_PREFIXES, MobilePrefixesResult),
    ],
)
def test_a_plain_answer_is_sure_and_the_models(check: Any, data: dict[str, Any], model: Any) -> None:
    """Sure of what the hosted server answers, extras and unicode included: else the lean path
    would load pydantic after all."""
    dump = check(data)
    assert dump is not None
    assert dumped_parts(dump) == result_parts(model.model_validate(data))
    assert list(dump["results" if "results" in dump else "prefixes"][0])[:2] != ["zz", "error"]


@pytest.mark.parametrize(
    "data",
    [
        {**PLAIN_PREFIXES, "ratio": 1e16},  # a float: its digits are pydantic's to write
        {**PLAIN_PREFIXES, "n": 2**63},
        {**PLAIN_PREFIXES, "s": "\ud800"},
        {**PLAIN_PREFIXES, "deep": _nested(30)},
        {"country": "LT", "prefixes": [{"prefix": 37061}]},  # pydantic refuses: not a str
        {"country": "LT"},
    ],
)
def test_an_odd_answer_is_left_to_the_models(data: dict[str, Any]) -> None:
    assert plain_prefixes(data) is None


def test_plain_arguments_are_sure() -> None:
    assert plain_numbers([{"number": "861860698", "country": "LT", "x": [1]}]) == [
        {"number": "861860698", "country": "LT"}
    ]
    assert plain_country("GB") == "GB"
    assert plain_country("GB\n") is None
    assert plain_numbers([]) is None
