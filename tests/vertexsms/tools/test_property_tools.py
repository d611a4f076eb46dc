"""Property test over every tool's arguments: a result or a clean envelope, INVALID_INPUT for schema violations, never a crash."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client

from bridge import connected, envelope, ok
from vertex_stdio.vertexsms.sandbox import Emulator
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

EXAMPLES = 50
EXTRA_KEYS = ["ctx", "from_", "self", "__proto__", "testMode", "token", "arguments", ""]
HUGE = ["x" * 100_000, "9" * 5_000, "\u00e9" * 5_000, "\U0001f600" * 2_000]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def wrong_values(kind: str | None) -> st.SearchStrategy[Any]:
    """Values of the wrong shape for ``kind``, avoiding the ones pydantic coerces on purpose ("5" → 5)."""
    shapes: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.lists(json_scalars, max_size=3),
        st.dictionaries(st.text(max_size=5), json_scalars, max_size=2),
    ]
    if kind == "string":
        shapes += [st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False)]
    if kind == "integer":
        shapes += [
            st.text(max_size=20).filter(_not_a_number),
            st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
        ]
    return st.one_of(shapes)


def values_for(schema: dict[str, Any], defs: dict[str, Any], fuzz: bool = True) -> st.SearchStrategy[Any]:
    """Values for one JSON schema: valid ones, plus (when ``fuzz``) boundary and wrong ones."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        return st.one_of([values_for(s, defs, fuzz) for s in schema["anyOf"]])
    kind = schema.get("type")
    good: list[st.SearchStrategy[Any]] = []
    edgy: list[st.SearchStrategy[Any]] = [wrong_values(kind)]
    if "enum" in schema:
        good.append(st.sampled_from(schema["enum"]))
        edgy.append(st.sampled_from([v.lower() for v in schema["enum"] if isinstance(v, str)] or [None]))
    elif kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
        if "pattern" in schema:
            good.append(
                st.from_regex(schema["pattern"], fullmatch=True).filter(lambda v: low <= len(v) <= high)
            )
        else:
            good.append(st.text(min_size=low, max_size=min(high, 60)))
        edgy.append(st.text(max_size=min(high, 60)))
        edgy.append(st.sampled_from([c * n for c in "A9é😀" for n in {max(0, low - 1), low, high, high + 1}]))
        edgy.append(st.sampled_from(HUGE))
    elif kind == "integer":
        low, high = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        good.append(st.integers(low, high))
        edgy.append(st.sampled_from([low - 1, low, high, high + 1, 0, -1, 2**63, -(2**63)]))
    elif kind == "array":
        item, most = values_for(schema.get("items", {}), defs, fuzz), schema.get("maxItems", 4)
        good.append(st.lists(item, min_size=schema.get("minItems", 0), max_size=min(most, 4)))
        edgy.append(st.lists(item, max_size=1) | st.lists(item, min_size=most + 1, max_size=most + 1))
    elif kind == "object":
        good.append(arguments(schema, defs, fuzz))
    elif kind == "null":
        good.append(st.none())
    return st.one_of([*good, *edgy]) if fuzz else st.one_of(good)


@st.composite
def _arguments(draw: st.DrawFn, schema: dict[str, Any], defs: dict[str, Any], fuzz: bool) -> dict[str, Any]:
    required = set(schema.get("required", []))
    args: dict[str, Any] = {}
    for name, sub in schema.get("properties", {}).items():
        include = not fuzz or draw(st.integers(0, 9)) > 0 if name in required else draw(st.booleans())
        if include:
            args[name] = draw(values_for(sub, defs, fuzz))
    if fuzz:
        for extra in draw(st.lists(st.sampled_from(EXTRA_KEYS) | st.text(max_size=8), max_size=2)):
            if extra not in args:
                args[extra] = draw(json_values)
    return args


def arguments(
    schema: dict[str, Any], defs: dict[str, Any] | None = None, fuzz: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Argument dicts for ``schema``: valid ones, or (``fuzz``) with keys missing, extra, wrong or at the edges."""
    return _arguments(schema, defs if defs is not None else schema.get("$defs", {}), fuzz)


@pytest.fixture(scope="module")
def session(emulator: Emulator) -> Iterator[tuple[anyio.from_thread.BlockingPortal, Client, dict[str, Any]]]:
    """One bridge session on a background event loop, shared by every example; and the tools' input schemas."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(connected(emulator, http_timeout=5.0)) as client,
    ):
        tools = portal.call(client.list_tools).tools
        yield portal, client, {t.name: t.input_schema for t in tools}


@pytest.mark.parametrize("tool", TOOL_NAMES)
def test_any_arguments_give_a_result_or_a_clean_error(
    tool: str,
    session: tuple[anyio.from_thread.BlockingPortal, Client, dict[str, Any]],
    emulator: Emulator,
    record_property: Any,
) -> None:
    """Generated arguments: schema violations are INVALID_INPUT with nothing sent upstream; nothing fails unexpectedly."""
    portal, client, schemas = session
    schema = schemas[tool]
    validator = Draft202012Validator(schema)
    seen: Counter[str] = Counter()  # outcomes, reported as a test property (docs/reliability.md)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )
    @given(args=arguments(schema, fuzz=False) | arguments(schema))
    def check(args: dict[str, Any]) -> None:
        before = len(emulator.journal)
        result = portal.call(client.call_tool, tool, args)
        upstream_requests = len(emulator.journal) - before
        valid = validator.is_valid(args)
        if not result.is_error:
            seen[f"valid={valid}: result"] += 1
            assert isinstance(ok(result), dict)
            return
        error = envelope(result)
        seen[f"valid={valid}: {error['code']}"] += 1
        assert "failed unexpectedly" not in error["message"], error
        assert len(json.dumps(error)) < 5000
        if not valid:
            assert error["code"] == "INVALID_INPUT", (args, error)
            assert upstream_requests == 0

    check()
    record_property("outcomes", dict(sorted(seen.items())))
