"""Numbers beyond any bound, typed into a real process over stdio: each is INVALID_INPUT naming the field.

A 4,301-digit integer is valid JSON that Python's int() refuses (its int-to-str limit) and that
pydantic's JSON parser calls out of range; it got no answer at all once.  Each case here is one raw
line, as a client writes it, to the real ``vertex-stdio --sandbox``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from stdio_server import Server

from bridge import process_env, vertex

pytestmark = pytest.mark.slow

HUGE = "9" * 4301
CASES: list[tuple[str, str, str]] = [
    # (tool, its arguments as raw JSON, the field the error names)
    ("send_sms", f'{{"to": {HUGE}, "from": "ACME", "message": "hi"}}', "to"),
    ("send_sms", f'{{"to": "+37061234567", "from": "ACME", "message": -{HUGE}}}', "message"),
    ("get_mcc_mnc_list", f'{{"country": "LT", "page": {HUGE}}}', "page"),
    ("get_mcc_mnc_list", '{"country": "LT", "page": 1e400}', "page"),
    ("get_mcc_mnc_list", '{"country": "LT", "page": 10001}', "page"),
    ("get_operator", f'{{"operatorId": {"9" * 4300}}}', "operatorId"),
    ("confirm_msisdn_sender", f'{{"sender_id": {HUGE}, "code": "12345"}}', "sender_id"),
    ("confirm_msisdn_sender", f'{{"sender_id": {2**63}, "code": "12345"}}', "sender_id"),
    ("send_sms", '{"to": "+37061234567", "from": "ACME", "message": "hi", "expireIn": 1e308}', "expireIn"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    proc = Server(process_env(tmp_path), tmp_path, ("--sandbox",))
    try:
        proc.initialize()
        yield proc
    finally:
        proc.finish()


def test_every_out_of_bounds_number_is_invalid_input(server: Server) -> None:
    """Each raw line gets its own INVALID_INPUT naming the field; the server keeps serving."""
    for n, (tool, arguments, _) in enumerate(CASES):
        line = f'{{"jsonrpc": "2.0", "id": {n}, "method": "tools/call", "params": {{"name": "{tool}", "arguments": {arguments}}}}}\n'
        server.send(line.encode())
    answers = server.answers(set(range(len(CASES))), timeout=60)
    for n, (tool, _, field) in enumerate(CASES):
        assert n in answers, (tool, field, server.diagnostics[-2000:])
        result = answers[n]["result"]
        assert result["isError"] is True, (tool, field, result)
        error = json.loads(result["content"][0]["text"])["error"]
        assert error["code"] == "INVALID_INPUT", (tool, field, error)
        assert error["fields"] == [field], (tool, field, error)
    assert server.tools_listed("after")


def test_a_huge_request_id_is_an_invalid_request(server: Server) -> None:
    """The id itself beyond any bound: -32600 with a null id (it cannot be echoed), and serving goes on."""
    server.send(f'{{"jsonrpc": "2.0", "id": {HUGE}, "method": "ping"}}\n'.encode())
    answer = server.answers({None})[None]
    assert answer["error"]["code"] == -32600
    assert server.tools_listed("after")


def test_call_takes_a_huge_number_to_the_tools_own_check(tmp_path: Path) -> None:
    """``call --json`` and ``--arg`` with a 4,301-digit number: INVALID_INPUT naming the field, exit 1."""
    for given in (
        ["--json", f'{{"country": "LT", "page": {HUGE}}}'],
        ["--arg", "country=LT", "--arg", f"page={HUGE}"],
    ):
        done = vertex(process_env(tmp_path), "call", "get_mcc_mnc_list", "--sandbox", *given, timeout=60)
        assert done.returncode == 1, done.stderr
        error = json.loads(done.stdout)["error"]
        assert (error["code"], error["fields"]) == ("INVALID_INPUT", ["page"])
