"""HostedCalls (the lean call path's hosted tools): what it answers, and what it leaves to the SDK.

In process, with the upstream's transport injected; the answers' equality with the SDK's is
proven through the real process in tests/mcpio/test_lean_calls.py.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import httpx2
import pytest
from pydantic import TypeAdapter

from vertex_stdio.core.credentials import (
    Challenge,
    NoTokenProvider,
    SignInPrompt,
    StaticTokenProvider,
    TokenProvider,
)
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.vertexsms.api.outcomes import Operation
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.leancall import HostedCalls
from vertex_stdio.vertexsms.results import result_parts
from vertex_stdio.vertexsms.tools.numbermodels import CorrectionResult, NumbersToCorrect, sent_numbers

pytestmark = pytest.mark.anyio
NUMBERS_TYPE: TypeAdapter[Any] = TypeAdapter(NumbersToCorrect)
NUMBERS = {"numbers": [{"number": "861860698", "country": "LT"}]}
CORRECTED = {
    "count": 1,
    "results": [
        {
            "input_number": "861860698",
            "country": "LT",
            "number_type": "mobile",
            "mobile": True,
            "number_e164": "+37061860698",
            "error": None,
        }
    ],
}


def _hosted(
    answer: dict[str, Any] | Exception | None, tokens: TokenProvider
) -> tuple[HostedMcpUpstream, list[str]]:
    """An upstream whose server answers every tools/call with ``answer`` (None: HTTP 401; an
    exception: the transport raises it once the call has gone out, as a defect would)."""
    seen: list[str] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body.get("method", ""))
        if body["method"] == "initialize":
            result = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "serverInfo": {"name": "s", "version": "1"},
            }
            return httpx2.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})
        if "id" not in body:
            return httpx2.Response(202)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            return httpx2.Response(401, headers={"www-authenticate": 'Bearer error="invalid_token"'})
        return httpx2.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": answer})

    upstream = HostedMcpUpstream("https://mcp.example/mcp", tokens, transport=httpx2.MockTransport(handle))
    return upstream, seen


def _result(data: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": json.dumps(data)}], "structuredContent": data}


async def _corrected(data: dict[str, Any], *, sandbox: bool = False) -> tuple[dict[str, Any], list[str]]:
    """``correct_phone_number`` of ``NUMBERS`` on the lean path, the hosted server answering
    ``data``: the answer, and the methods the server saw."""
    tokens = StaticTokenProvider("sandbox", source="sandbox") if sandbox else StaticTokenProvider("tok")
    upstream, seen = _hosted(_result(data), tokens)
    try:
        run = HostedCalls(upstream, tokens, sandbox=sandbox).prepare("correct_phone_number", NUMBERS)
        assert run is not None
        answer = await run()
        assert answer is not None
        return answer, seen
    finally:
        await upstream.aclose()


async def test_a_plain_call_is_answered_with_the_sdks_result_shape() -> None:
    answer, seen = await _corrected(CORRECTED)
    assert list(answer) == ["content", "isError", "structuredContent"]
    assert answer["structuredContent"] == CORRECTED
    assert json.loads(answer["content"][0]["text"]) == CORRECTED
    assert seen.count("tools/call") == 1


async def test_the_sandbox_marks_its_answers() -> None:
    answer, _ = await _corrected(CORRECTED, sandbox=True)
    assert answer["_meta"] == {"vertex-stdio/sandbox": True}
    assert answer["content"][1]["text"].startswith("[SANDBOX]")


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("correct_phone_number", {"numbers": []}),
        ("correct_phone_number", {"numbers": "[]"}),
        ("correct_phone_number", {**NUMBERS, "extra": 1}),
        ("correct_phone_number", {}),
        ("get_mobile_prefixes", {"country": "lt"}),
        ("get_mobile_prefixes", {"country": 1}),
        ("send_sms", {"to": "+37061860698", "text": "hi"}),
        ("lookup_hlr", {"msisdn": "+37061860698", "callBackUrl": "https://x.example"}),
    ],
)
async def test_anything_but_valid_arguments_of_a_hosted_tool_is_the_sdks(
    name: str, arguments: dict[str, Any]
) -> None:
    tokens = StaticTokenProvider("tok")
    upstream, _ = _hosted(_result(CORRECTED), tokens)
    assert HostedCalls(upstream, tokens, sandbox=False).prepare(name, arguments) is None


class _Signing:
    """A provider with no token at hand that would prompt for a sign-in."""

    source = "oauth"

    def __init__(self, at_hand: str | None) -> None:
        self.at_hand = at_hand
        self.asked = 0

    async def silent_token(self) -> str | None:
        return self.at_hand

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        self.asked += 1
        if self.at_hand is not None:
            return self.at_hand
        assert prompt is not None
        await prompt.progress("Waiting for the sign-in", 0.0, None)
        raise AuthRequired("not reached")

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        self.at_hand = None
        return True

    async def aclose(self) -> None:
        return None


async def test_no_token_at_hand_leaves_the_call_to_the_sdk_before_anything_is_sent() -> None:
    for tokens in (NoTokenProvider(), _Signing(None)):
        upstream, seen = _hosted(_result(CORRECTED), tokens)
        run = HostedCalls(upstream, tokens, sandbox=False).prepare("correct_phone_number", NUMBERS)
        assert run is not None
        assert await run() is None
        assert seen == []
        await upstream.aclose()


async def test_a_call_that_would_prompt_midway_is_left_to_the_sdk(caplog: pytest.LogCaptureFixture) -> None:
    tokens = _Signing("expired")
    upstream, seen = _hosted(None, tokens)  # the token is refused: renewing it needs a sign-in
    run = HostedCalls(upstream, tokens, sandbox=False).prepare("get_mobile_prefixes", {"country": "LT"})
    assert run is not None
    with caplog.at_level(logging.DEBUG, logger="vertex_stdio.vertexsms.leancall"):
        assert await run() is None
    assert "tools/call" in seen
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # expected: no defect reported
    await upstream.aclose()


async def test_a_defect_in_a_free_call_is_left_to_the_sdk_and_said(caplog: pytest.LogCaptureFixture) -> None:
    """A failure the lean path does not expect, after the request went out: the call is read-only
    and free, so the SDK path runs it again (nothing is lost to the defect), and a warning says so."""
    tokens = StaticTokenProvider("tok")
    upstream, seen = _hosted(RuntimeError("a defect"), tokens)
    run = HostedCalls(upstream, tokens, sandbox=False).prepare("correct_phone_number", NUMBERS)
    assert run is not None
    with caplog.at_level(logging.WARNING, logger="vertex_stdio.vertexsms.leancall"):
        assert await run() is None
    assert "tools/call" in seen
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "correct_phone_number failed on the lean call path (RuntimeError)" in record.getMessage()
    assert "the SDK path runs it again" in record.getMessage()
    await upstream.aclose()


async def test_a_defect_in_a_call_that_costs_is_never_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    """No such tool takes the lean path today (both are free reads); were one to, a defect after
    its request went out is answered as of unknown outcome, never handed to the SDK to send again."""
    tokens = StaticTokenProvider("tok")
    upstream, _ = _hosted(_result(CORRECTED), tokens)
    calls = HostedCalls(upstream, tokens, sandbox=False)
    costly = Operation(tool="send_sms", scope="sms:send", costs_or_changes=True, is_send=True)
    sent: list[str] = []

    async def goes_out_then_fails() -> Any:
        sent.append("POST")
        raise KeyError("a defect")

    with caplog.at_level(logging.ERROR, logger="vertex_stdio.vertexsms.leancall"):
        answer = await calls._answer(costly, goes_out_then_fails)
    assert answer is not None
    assert answer["isError"] is True
    envelope = json.loads(answer["content"][0]["text"])["error"]
    assert envelope["outcome"] == "unknown"
    assert envelope["retryable"] is False
    assert "not retried" in envelope["message"]
    assert sent == ["POST"]
    assert "send_sms failed on the lean call path; it is not sent again" in caplog.text


ODD_CORRECTIONS = [
    CORRECTED,  # the certified subset: checked without the models
    {**CORRECTED, "count": True},  # what the models convert (lax): they decide
    {**CORRECTED, "results": [{**CORRECTED["results"][0], "score": 0.5, "big": 2**70}]},
]


@pytest.mark.parametrize("data", ODD_CORRECTIONS)
async def test_an_answer_is_written_as_the_models_write_it(data: dict[str, Any]) -> None:
    """Whether ``numbercheck`` is sure of the answer or the models decide, the same bytes."""
    answer, _ = await _corrected(data)
    text, structured = result_parts(CorrectionResult.model_validate(data))
    assert answer["content"][0]["text"] == text
    assert json.dumps(answer["structuredContent"]) == json.dumps(structured)


@pytest.mark.parametrize("data", [{"count": "many", "results": []}, {"count": 1}])
async def test_an_answer_the_models_refuse_is_an_unexpected_shape(data: dict[str, Any]) -> None:
    answer, _ = await _corrected(data)
    assert answer["isError"] is True
    assert "in an unexpected shape" in answer["content"][0]["text"]


async def test_the_numbers_are_sent_as_the_models_dump_them() -> None:
    """An item's other keys are dropped, as ``model_dump`` drops them; the order is the model's."""
    sent: list[Any] = []

    class Hosted:
        async def call_tool(
            self, op: Operation, arguments: dict[str, Any], prompt: Any = None
        ) -> dict[str, Any]:
            sent.append(arguments)
            return CORRECTED

    numbers = [{"country": "LT", "x": [1], "number": "8618 ü"}, {"number": "+37061860698", "country": "LT"}]
    run = HostedCalls(Hosted(), StaticTokenProvider("tok"), sandbox=False).prepare(
        "correct_phone_number", {"numbers": numbers}
    )
    assert run is not None
    assert (await run() or {})["isError"] is False
    expected = {"numbers": sent_numbers(NUMBERS_TYPE.validate_python(numbers))}
    assert json.dumps(sent) == json.dumps([expected])


@pytest.mark.slow  # a fresh interpreter
def test_the_lean_call_path_imports_neither_the_sdk_nor_pydantic() -> None:
    """What ``earlyserve.Warm`` imports for the first call: no SDK, and no pydantic (issue 22:
    ~60-80 ms of CPU; pydantic_core, the JSON writer, is allowed)."""
    script = (
        "import sys\n"
        "import vertex_stdio.vertexsms.leancall, vertex_stdio.mcpio.leancalls\n"
        "import vertex_stdio.mcpio.early, vertex_stdio.vertexsms.api.remote\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'pydantic')])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
