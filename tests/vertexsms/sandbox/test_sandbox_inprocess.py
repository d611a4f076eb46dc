"""The sandbox's in-process hosted answers (``sandbox/inprocess.py``, ``sandboxcalls.py``): what
they leave to the emulator.  That their answers are the emulator's, byte for byte, is proven
through the real process in test_sandbox_first_calls.py."""

from __future__ import annotations

from typing import Any

import pytest

from vertex_stdio.core.errors import InvalidInput
from vertex_stdio.vertexsms.leancall import LeftToSdk
from vertex_stdio.vertexsms.sandbox.inprocess import Unsure, answer
from vertex_stdio.vertexsms.sandboxcalls import InProcessHosted
from vertex_stdio.vertexsms.tools.hosted import CORRECT, PREFIXES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("correct_phone_number", {"numbers": []}),
        ("correct_phone_number", {"numbers": [{"number": "8" * 41, "country": "LT"}]}),
        ("correct_phone_number", {"numbers": [{"number": "861860698", "country": "LTU"}]}),
        ("correct_phone_number", {"numbers": [{"number": "861860698"}]}),
        ("correct_phone_number", {"numbers": "861860698"}),
        ("correct_phone_number", {}),
        ("get_mobile_prefixes", {"country": 37}),
        ("get_mobile_prefixes", {"country": "L"}),
        ("get_mobile_prefixes", {}),
        ("get_operator", {"operatorId": 1}),
    ],
)
async def test_what_the_emulators_server_would_refuse_is_left_to_it(tool: str, arguments: Any) -> None:
    with pytest.raises(Unsure):
        await answer(tool, arguments)


async def test_a_tools_refusal_is_the_contracts_error_and_a_result_its_data() -> None:
    hosted = InProcessHosted()
    with pytest.raises(InvalidInput, match="Unknown country ZZ"):
        await hosted.call_tool(PREFIXES, {"country": "zz"})
    data = await hosted.call_tool(CORRECT, {"numbers": [{"number": "+370 618 60698", "country": "lt"}]})
    assert data["results"][0]["number_e164"] == "+37061860698"
    assert data["count"] == 1
    prefixes = await hosted.call_tool(PREFIXES, {"country": "EE"})
    assert prefixes["country"] == "EE"
    assert all(row["prefix"].startswith("372") for row in prefixes["prefixes"])


async def test_a_call_the_emulator_would_refuse_is_handed_to_the_sdk_path() -> None:
    with pytest.raises(LeftToSdk):
        await InProcessHosted().call_tool(CORRECT, {"numbers": []})
