"""Upstream faults beyond tests/test_errors.py: each gives the right envelope in bounded time, then service resumes."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from mcp import Client

from bridge import connected, envelope, ok
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

pytestmark = pytest.mark.anyio

SEND = {"to": "37069912345", "from": "ACME", "message": "Your code is 4815"}
READ = {"operatorId": 1101}
HOSTED = [
    ("get_mobile_prefixes", {"country": "LT"}),
    ("correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}),
]
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
HUGE = 20 * 1024 * 1024
TIMEOUT = 1.0  # http_timeout in these tests; the per-call deadline is this plus 5 s
DEADLINE = TIMEOUT + 5.0


def _http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def _armed(fault: Fault, method: str, path: str) -> Fault:
    """``fault`` for every ``method path`` request, with ``in N s`` header values turned into HTTP dates now."""
    headers = {
        k: _http_date(float(v.split()[1])) if v.startswith("in ") else v for k, v in fault.headers.items()
    }
    return Fault(**{**fault.__dict__, "method": method, "path": path, "times": None, "headers": headers})


async def _timed(client: Client, tool: str, args: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await client.call_tool(tool, args)
    return result, time.monotonic() - started


async def _still_serving(client: Client, emulator: Emulator) -> None:
    """With faults cleared, the same session sends and reads normally."""
    emulator.clear_faults()
    assert ok(await client.call_tool("get_operator", READ))["operator_id"] == 1101
    assert ok(await client.call_tool("send_sms", SEND))["status"] == "sent"


# --- REST: one billable call and one read per fault ------------------------------------------

BILLABLE_FAULTS = {
    "429-http-date": (
        Fault(status=429, headers={"retry-after": "in 120 s"}, body=b'{"message": "Slow down"}'),
        "RATE_LIMITED",
        "refused",
    ),
    "drip": (
        Fault(status=200, body=b'["' + b"1" * 300 + b'"]', drip_bytes_per_s=30),
        "UPSTREAM_UNAVAILABLE",
        "unknown",
    ),
    "500-html": (
        Fault(status=500, body=HTML, headers={"content-type": "text/html"}),
        "UPSTREAM_UNAVAILABLE",
        "unknown",
    ),
    "200-huge": (Fault(status=200, body_size=HUGE), "UPSTREAM_ERROR", "probably_done"),
    "502-huge": (Fault(status=502, body_size=HUGE), "UPSTREAM_UNAVAILABLE", "unknown"),
    "400-bad-json": (
        Fault(status=400, body=b'{"message": "bad sender', headers={"content-type": "application/json"}),
        "VERTEX_SEND_FAILED",
        "refused",
    ),
    "422-bad-json": (Fault(status=422, body=b"{not json"), "UPSTREAM_ERROR", "refused"),
}


def _cases(faults: dict[str, Any]) -> list[Any]:
    """The drip waits out the read deadline on the real clock (seconds): not in the fast tier."""
    return [pytest.param(c, marks=pytest.mark.slow, id=c) if c == "drip" else c for c in faults]


@pytest.mark.parametrize("case", _cases(BILLABLE_FAULTS), ids=list(BILLABLE_FAULTS))
async def test_billable_call_under_fault(emulator: Emulator, case: str, record_property: Any) -> None:
    """A send meets the fault: one POST reached VertexSMS, the right envelope comes in time, then sends work again."""
    fault, code, outcome = BILLABLE_FAULTS[case]
    emulator.inject(_armed(fault, "POST", "/sms"))
    async with connected(emulator, http_timeout=TIMEOUT) as client:
        result, seconds = await _timed(client, "send_sms", SEND)
        error = envelope(result)
        assert len(emulator.journal_for("POST", "/sms")) == 1
        await _still_serving(client, emulator)
    record_property("seconds", round(seconds, 2))
    assert error["code"] == code, error
    assert error.get("outcome") == outcome, error
    assert seconds < DEADLINE + 1.5
    assert "<html" not in error["message"].lower()
    assert len(error["message"]) < 1000
    if outcome == "unknown":
        assert "Do not repeat it blindly" in error["message"]
    if case == "429-http-date":
        assert 100 <= error["retry_after_seconds"] <= 121


READ_FAULTS = {
    "429-http-date-long": (
        Fault(status=429, headers={"retry-after": "in 120 s"}),
        "RATE_LIMITED",
        1,
    ),
    "drip": (
        Fault(status=200, body=b'{"id": 1101, "name": "' + b"x" * 300 + b'"}', drip_bytes_per_s=30),
        "UPSTREAM_UNAVAILABLE",
        None,
    ),
    "500-html": (
        Fault(status=500, body=HTML, headers={"content-type": "text/html"}),
        "UPSTREAM_UNAVAILABLE",
        1,
    ),
    "200-huge": (Fault(status=200, body_size=HUGE), "UPSTREAM_ERROR", None),
    "502-huge": (Fault(status=502, body_size=HUGE), "UPSTREAM_UNAVAILABLE", 3),
    "400-bad-json": (Fault(status=400, body=b"{not json"), "INVALID_INPUT", 1),
    "404-bad-json": (Fault(status=404, body=b"[1, 2"), "NOT_FOUND", 1),
}


@pytest.mark.parametrize("case", _cases(READ_FAULTS), ids=list(READ_FAULTS))
async def test_read_call_under_fault(emulator: Emulator, case: str, record_property: Any) -> None:
    """A read meets the fault: bounded retries at most, the right envelope within the deadline, then reads work again."""
    fault, code, requests = READ_FAULTS[case]
    emulator.inject(_armed(fault, "GET", "/operators/1101"))
    async with connected(emulator, http_timeout=TIMEOUT) as client:
        result, seconds = await _timed(client, "get_operator", READ)
        error = envelope(result)
        seen = len(emulator.journal_for("GET", "/operators/1101"))
        await _still_serving(client, emulator)
    record_property("seconds", round(seconds, 2))
    assert error["code"] == code, error
    assert "outcome" not in error
    assert seconds < DEADLINE + 1.5
    assert "<html" not in error["message"].lower()
    assert 1 <= seen <= 3
    if requests is not None:
        assert seen == requests


@pytest.mark.slow  # waits out timeouts or delays on the real clock
async def test_read_waits_out_a_short_retry_after_date(emulator: Emulator) -> None:
    """A 429 whose Retry-After is an HTTP date two seconds ahead is waited out, and the read then succeeds."""
    emulator.inject(
        Fault(method="GET", path="/operators/1101", status=429, headers={"retry-after": _http_date(2)})
    )
    async with connected(emulator, http_timeout=TIMEOUT) as client:
        result, seconds = await _timed(client, "get_operator", READ)
    assert ok(result)["operator_id"] == 1101
    assert len(emulator.journal_for("GET", "/operators/1101")) == 2
    assert 0.5 <= seconds < 4


# --- a raw server that sends headers and part of the body, then hangs up ----------------------


class CutServer:
    """Loopback HTTP/1.1 server: answers every request with headers promising 1000 bytes, sends 40, closes."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> CutServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        self.requests.append(head.split(b"\r\n")[0].decode())
        conn.sendall(
            f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'["msg-1", "partial answer, then the li'
        )


@pytest.mark.slow  # waits out timeouts or delays on the real clock
@pytest.mark.parametrize("status", [200, 502])
async def test_connection_cut_mid_body(emulator: Emulator, status: int, record_property: Any) -> None:
    """Headers arrive, then the body is cut: the send is reported unknown after one POST; a read retries at most twice."""
    with CutServer(status) as cut:
        async with connected(emulator, http_timeout=TIMEOUT, api_url=cut.url) as client:
            send, send_seconds = await _timed(client, "send_sms", SEND)
            sends = sum(1 for r in cut.requests if r.startswith("POST /sms "))
            read, read_seconds = await _timed(client, "get_operator", READ)
            reads = sum(1 for r in cut.requests if r.startswith("GET /operators/1101"))
            prefixes = ok(await client.call_tool("get_mobile_prefixes", {"country": "LT"}))
    record_property("send_seconds", round(send_seconds, 2))
    record_property("read_seconds", round(read_seconds, 2))
    send_error, read_error = envelope(send), envelope(read)
    assert sends == 1
    assert send_error["code"] == "UPSTREAM_UNAVAILABLE"
    assert send_error["outcome"] == "unknown"
    assert "connection dropped mid-answer" in send_error["message"]
    assert read_error["code"] == "UPSTREAM_UNAVAILABLE"
    assert reads == 3
    assert send_seconds < 2
    assert read_seconds < 4
    assert prefixes["country"] == "LT"


# --- the hosted MCP path -----------------------------------------------------------------------

HOSTED_FAULTS = {
    "delay": Fault(delay=TIMEOUT + 4),
    "drop": Fault(drop=True),
    "500": Fault(status=500),
    "502-html": Fault(status=502, body=HTML, headers={"content-type": "text/html"}),
    "200-huge": Fault(status=200, body_size=HUGE),
    "503-huge": Fault(status=503, body_size=HUGE),
}


@pytest.mark.parametrize("tool_args", HOSTED, ids=[t for t, _ in HOSTED])
@pytest.mark.parametrize(
    "case",
    # "delay" waits out the 1 s HTTP timeout on the real clock: slow
    [pytest.param(case, marks=pytest.mark.slow) if case == "delay" else case for case in HOSTED_FAULTS],
    ids=list(HOSTED_FAULTS),
)
async def test_hosted_call_under_fault(
    emulator: Emulator, case: str, tool_args: tuple[str, dict[str, Any]], record_property: Any
) -> None:
    """A hosted-MCP tool meets the fault: UPSTREAM_UNAVAILABLE or UPSTREAM_ERROR in bounded time, then it works again."""
    tool, args = tool_args
    async with connected(emulator, http_timeout=TIMEOUT) as client:
        ok(await client.call_tool(tool, args))  # a live connection meets the fault mid-session
        emulator.inject(
            Fault(**{**HOSTED_FAULTS[case].__dict__, "method": "POST", "path": "/mcp", "times": None})
        )
        result, seconds = await _timed(client, tool, args)
        error = envelope(result)
        emulator.clear_faults()
        again = ok(await client.call_tool(tool, args))
    record_property("seconds", round(seconds, 2))
    assert error["code"] in ("UPSTREAM_UNAVAILABLE", "UPSTREAM_ERROR"), error
    assert "failed unexpectedly" not in error["message"]
    assert "<html" not in error["message"].lower()
    assert len(error["message"]) < 1000
    assert seconds < 2 * DEADLINE + 1
    assert again
    if case == "200-huge":
        assert error["code"] == "UPSTREAM_ERROR"
        assert "larger than 4 MiB" in error["message"]


async def test_hosted_refused_then_back(emulator: Emulator) -> None:
    """With the hosted server unreachable the call fails fast; REST tools keep working meanwhile."""
    async with connected(emulator, http_timeout=TIMEOUT, mcp_url="http://127.0.0.1:9/mcp") as client:
        result, seconds = await _timed(client, "get_mobile_prefixes", {"country": "LT"})
        assert ok(await client.call_tool("get_operator", READ))["operator_id"] == 1101
    assert envelope(result)["code"] == "UPSTREAM_UNAVAILABLE"
    assert seconds < 3
    assert json.dumps(envelope(result))  # serialisable as is
