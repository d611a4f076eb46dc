"""Failures through the real chain: every row of the error mapping, schema violations, money safety."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bridge import connected, envelope, ok
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

pytestmark = pytest.mark.anyio

SEND = {"to": "37069912345", "from": "ACME", "message": "Your code is 4815"}
HLR = {"msisdn": "37069912345", "callBackUrl": "https://example.com/hlr"}
ALPHA = {"name": "ACMEBANK", "category": "Company", "categoryDescription": "Our company name"}


def _json_fault(
    method: str, path: str, status: int, message: str = "Reason from VertexSMS", **kw: Any
) -> Fault:
    return Fault(
        method=method,
        path=path,
        status=status,
        body=json.dumps({"message": message}).encode(),
        headers={"content-type": "application/json", **kw.pop("headers", {})},
        **kw,
    )


@pytest.mark.parametrize(
    ("status", "headers", "code", "retryable"),
    [
        (400, {}, "VERTEX_SEND_FAILED", False),
        (401, {}, "AUTH_INVALID", False),
        (403, {}, "AUTH_INVALID", False),
        (
            403,
            {"www-authenticate": 'Bearer error="insufficient_scope", scope="sms:send"'},
            "INSUFFICIENT_SCOPE",
            False,
        ),
        (404, {}, "NOT_FOUND", False),
        (409, {}, "UPSTREAM_ERROR", False),
        (422, {}, "UPSTREAM_ERROR", False),
        (429, {"retry-after": "120"}, "RATE_LIMITED", True),
        (500, {}, "UPSTREAM_UNAVAILABLE", False),  # the send may have gone: never retryable
        (502, {}, "UPSTREAM_UNAVAILABLE", False),  # the send may have gone: never retryable
        (503, {}, "UPSTREAM_UNAVAILABLE", False),  # the send may have gone: never retryable
        (504, {}, "UPSTREAM_UNAVAILABLE", False),  # the send may have gone: never retryable
    ],
)
async def test_send_error_mapping(
    emulator: Emulator, status: int, headers: dict[str, str], code: str, retryable: bool
) -> None:
    """Each HTTP outcome of a send maps to its code, passes the message through, and is sent once."""
    emulator.inject(_json_fault("POST", "/sms", status, headers=headers, times=None))
    async with connected(emulator) as client:
        error = envelope(await client.call_tool("send_sms", SEND))
    assert (error["code"], error["retryable"]) == (code, retryable)
    assert "Reason from VertexSMS" in error["message"]
    assert len(emulator.journal_for("POST", "/sms")) == 1
    if status >= 500:
        assert error["outcome"] == "unknown"
        assert "may or may not have happened" in error["message"]
    if status == 429:
        assert error["retry_after_seconds"] == 120


@pytest.mark.parametrize(
    ("status", "code"), [(400, "INVALID_INPUT"), (404, "NOT_FOUND"), (409, "UPSTREAM_ERROR")]
)
async def test_read_error_mapping(emulator: Emulator, status: int, code: str) -> None:
    """For a read, 400 is INVALID_INPUT (not a send failure)."""
    emulator.inject(_json_fault("GET", "/operators/1101", status, times=None))
    async with connected(emulator) as client:
        error = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
    assert error["code"] == code
    assert len(emulator.journal_for("GET", "/operators/1101")) == 1


async def test_real_statuses_from_the_emulator(emulator: Emulator) -> None:
    """Unknown operator, wrong PIN, duplicate sender and a bad token come back as the real service says."""
    async with connected(emulator) as client:
        assert envelope(await client.call_tool("get_operator", {"operatorId": 999999}))["code"] == "NOT_FOUND"
        wrong = envelope(await client.call_tool("confirm_msisdn_sender", {"sender_id": 1, "code": "00000"}))
        assert wrong["code"] in ("INVALID_INPUT", "NOT_FOUND")
        ok(await client.call_tool("register_sender_id", {**ALPHA, "name": "DUPLICATE"}))
        duplicate = envelope(await client.call_tool("register_sender_id", {**ALPHA, "name": "DUPLICATE"}))
        assert duplicate["code"] == "UPSTREAM_ERROR"
        bad_from = envelope(await client.call_tool("send_sms", {**SEND, "to": "99912345678"}))
        assert bad_from["code"] == "VERTEX_SEND_FAILED"
    async with connected(emulator, tokens=StaticTokenProvider("not-a-valid-token")) as client:
        bad = envelope(await client.call_tool("get_sms_rates", {"country": "LT"}))
        hosted = envelope(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
    assert bad["code"] == "AUTH_INVALID"
    assert bad["signin_url"]
    assert hosted["code"] == "AUTH_INVALID"


async def test_scope_limited_token(emulator: Emulator) -> None:
    """A token without a route's permission gets AUTH_INVALID on REST and INSUFFICIENT_SCOPE on hosted MCP."""
    emulator.add_token("rates-only-token", {"sms:rates"})
    try:
        async with connected(emulator, tokens=StaticTokenProvider("rates-only-token")) as client:
            ok(await client.call_tool("get_sms_rates", {"country": "LT"}))
            rest = envelope(await client.call_tool("send_sms", SEND))
            hosted = envelope(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
    finally:
        emulator.remove_token("rates-only-token")
    assert rest["code"] == "AUTH_INVALID"
    assert hosted["code"] == "INSUFFICIENT_SCOPE"
    assert "numbers:read" in hosted["message"]


@pytest.mark.parametrize(
    ("tool", "args", "method", "path"),
    [
        ("send_sms", SEND, "POST", "/sms"),
        ("lookup_hlr", HLR, "POST", "/hlr"),
        ("register_sender_id", ALPHA, "POST", "/senderId"),
        ("register_msisdn_sender", {"msisdn": "37069555555"}, "POST", "/senderId"),
    ],
)
@pytest.mark.parametrize(
    "fault",
    [
        Fault(delay=5.0),
        Fault(drop=True),
        Fault(
            status=503,
            body=b"<html><body>Service Unavailable</body></html>",
            headers={"content-type": "text/html"},
        ),
        Fault(silence_after_headers=True),
    ],
    ids=["timeout", "dropped", "503-html", "silence"],
)
@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_money_calls_are_never_retried(
    emulator: Emulator, tool: str, args: dict[str, Any], method: str, path: str, fault: Fault
) -> None:
    """Timeouts, dropped connections, 5xx and stalls: exactly one request, outcome reported unknown."""
    emulator.inject(Fault(**{**fault.__dict__, "method": method, "path": path, "times": None}))
    started = time.monotonic()
    async with connected(emulator, http_timeout=1.0) as client:
        error = envelope(await client.call_tool(tool, args))
    assert time.monotonic() - started < 15
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["retryable"] is False  # it may have happened: a client keying on retryable must not resend
    assert error["outcome"] == "unknown"
    assert "Do not repeat it blindly" in error["message"]
    assert len(emulator.journal_for(method, path)) == 1


async def test_reads_retry_transient_failures(emulator: Emulator) -> None:
    """A read retries a 503, a dropped connection and a short 429, then succeeds."""
    emulator.inject(Fault(method="GET", path="/operators/1101", status=503, times=1))
    emulator.inject(Fault(method="GET", path="/operators/1101", drop=True, times=1))
    emulator.inject(
        Fault(method="GET", path="/operators/1101", status=429, headers={"retry-after": "1"}, times=1)
    )
    async with connected(emulator) as client:
        # Two retries are allowed: the third failure (the 429) needs a second call.
        first = await client.call_tool("get_operator", {"operatorId": 1101})
        second = ok(await client.call_tool("get_operator", {"operatorId": 1101}))
    assert envelope(first)["code"] == "RATE_LIMITED"
    assert second["operator_id"] == 1101
    assert len(emulator.journal_for("GET", "/operators/1101")) == 4


async def test_reads_give_up_after_bounded_retries(emulator: Emulator) -> None:
    """A read that keeps failing is tried three times in all, then UPSTREAM_UNAVAILABLE."""
    emulator.inject(Fault(method="GET", path="/operators/1101", status=502, times=None))
    async with connected(emulator) as client:
        error = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    assert "outcome" not in error
    assert len(emulator.journal_for("GET", "/operators/1101")) == 3


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_refused_connection(emulator: Emulator) -> None:
    """Nothing listening: a clear UPSTREAM_UNAVAILABLE; a send that never connected is not_sent (retryable)."""
    async with connected(emulator, api_url="http://127.0.0.1:9", mcp_url="http://127.0.0.1:9/mcp") as client:
        rest = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
        hosted = envelope(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
        send = envelope(await client.call_tool("send_sms", SEND))
    assert rest["code"] == hosted["code"] == send["code"] == "UPSTREAM_UNAVAILABLE"
    assert (send["outcome"], send["retryable"]) == ("not_sent", True)
    assert "NOT made" in send["message"]


async def test_malformed_success_bodies(emulator: Emulator) -> None:
    """A 200 we cannot read is UPSTREAM_ERROR; for a send it says the message was probably sent."""
    emulator.inject(Fault(method="POST", path="/sms", status=200, body=b"{not json", times=1))
    emulator.inject(
        Fault(method="GET", path="/operators/1101", status=200, body=b"<html>oops</html>", times=None)
    )
    async with connected(emulator) as client:
        send = envelope(await client.call_tool("send_sms", SEND))
        read = envelope(await client.call_tool("get_operator", {"operatorId": 1101}))
    assert send["code"] == "UPSTREAM_ERROR"
    assert send["outcome"] == "probably_done"
    assert read["code"] == "UPSTREAM_ERROR"
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("send_sms", {**SEND, "to": "+370 699"}, "to"),
        ("send_sms", {**SEND, "expireIn": 100}, "expireIn"),
        ("send_sms", {**SEND, "coding": 3}, "coding"),
        ("send_sms", {**SEND, "priority": "urgent"}, "priority"),
        ("send_sms", {"to": "37069912345", "message": "hi"}, "from"),
        ("send_sms", {**SEND, "correctBy": "Lithuania"}, "correctBy"),
        ("get_sms_rates", {"country": "lt"}, "country"),
        ("register_sender_id", {**ALPHA, "name": "AB"}, "name"),
        ("register_sender_id", {**ALPHA, "name": "TWELVECHARSX"}, "name"),
        ("register_sender_id", {**ALPHA, "category": "Person"}, "category"),
        ("confirm_msisdn_sender", {"sender_id": 1, "code": "1234"}, "code"),
        ("correct_phone_number", {"numbers": [{"number": "1", "country": "LT"}] * 101}, "numbers"),
        ("correct_phone_number", {"numbers": []}, "numbers"),
        ("get_mcc_mnc_list", {"country": "LT", "page": 0}, "page"),
        ("get_operator", {"operatorId": "abc"}, "operatorId"),
        ("lookup_hlr", {"msisdn": "37069912345"}, "callBackUrl"),
    ],
)
async def test_schema_violations_name_the_field(
    emulator: Emulator, tool: str, args: dict[str, Any], field: str
) -> None:
    """Arguments that break the schema are INVALID_INPUT naming the field; nothing goes upstream."""
    async with connected(emulator) as client:
        error = envelope(await client.call_tool(tool, args))
    assert error["code"] == "INVALID_INPUT"
    assert error["retryable"] is False
    assert any(f == field or f.startswith(field + ".") for f in error["fields"]), error
    assert f"`{field}" in error["message"]
    assert emulator.journal == []


async def test_unknown_country_for_rates(emulator: Emulator) -> None:
    """A well-formed but unserved country code is INVALID_INPUT with advice."""
    async with connected(emulator) as client:
        error = envelope(await client.call_tool("get_sms_rates", {"country": "UK"}))
    assert error["code"] == "INVALID_INPUT"
    assert "GB" in error["message"]


async def test_hosted_server_errors(emulator: Emulator) -> None:
    """The hosted server's own error envelope, its 5xx and its 429 come back in our shapes."""
    async with connected(emulator) as client:
        bad_country = envelope(await client.call_tool("get_mobile_prefixes", {"country": "ZZ"}))
        emulator.inject(Fault(method="POST", path="/mcp", status=503, times=None))
        down = envelope(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
        emulator.clear_faults()
        emulator.inject(
            Fault(method="POST", path="/mcp", status=429, headers={"retry-after": "30"}, times=None)
        )
        limited = envelope(
            await client.call_tool(
                "correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}
            )
        )
        emulator.clear_faults()
        back = ok(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
    assert bad_country["code"] == "INVALID_INPUT"
    assert down["code"] == "UPSTREAM_UNAVAILABLE"
    assert down["retryable"] is True
    assert limited["code"] == "RATE_LIMITED"
    assert limited["retry_after_seconds"] == 30
    assert back["country"] == "LT"
