"""``serve --sandbox``'s first hosted calls, answered before the SDK and the emulator are up.

Three real processes in the sandbox get the same lines: the lean path on (its first calls are
answered in-process, ``vertexsms/sandboxcalls.py``), ``VERTEX_STDIO_LEAN=0`` (the SDK answers
everything, through the emulator's ``/mcp``) and ``VERTEX_STDIO_LEAN_CALLS=0`` (the front on, the
calls through the SDK and the emulator).  Numbers typed every way people type them, every
country and unknown ones, ids of every kind, then lines the early path must leave to the SDK:
every answer must be the same bytes, and the lean process must have answered the plain calls
before the SDK was imported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from stdio_server import INIT, Server

from bridge import process_env, rpc
from vertex_stdio.vertexsms.sandbox.data import COUNTRIES

pytestmark = pytest.mark.slow


def _call(id_: Any, name: str, arguments: Any, *, ascii_only: bool = False, **extra: Any) -> bytes:
    params = {"name": name, "arguments": arguments, **extra}
    message = {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}
    return json.dumps(message, ensure_ascii=ascii_only).encode() + b"\n"


def _numbers(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"numbers": [{"number": n, "country": c} for n, c in pairs]}


WRITTEN = [  # (number, country) as people write them
    ("861860698", "LT"),
    ("+370 618 60698", "LT"),
    ("00370-618-60698", "LT"),
    ("(8-618) 60 698", "LT"),
    ("370.618.60698", "LT"),
    ("8\u00a0618\u00a060698", "LT"),
    ("618/60698", "LT"),
    ("+44 (0)20 7946 0958", "GB"),
    ("07700 900123", "GB"),
    ("011 44 7700 900123", "US"),
    ("(212) 555-0123", "US"),
    ("1-212-555-0123", "US"),
    ("+1 212 555 0123", "CA"),
    ("0151 12345678", "DE"),
    ("+49 30 123456", "DE"),
    ("86186abc", "LT"),
    (" - ", "LT"),
    ("+", "LT"),
    ("٨٦١٨٦٠٦٩٨", "LT"),
    ("8618🙂", "LT"),
    ("+999 1234567", "LT"),
    ("861860698", "ZZ"),
    ("12", "EE"),
    ("9" * 40, "FI"),
]


def _early_cases() -> list[tuple[Any, bytes]]:
    """Plain calls the early path takes: (id, line)."""
    cases = [
        (f"p-{iso2}", _call(f"p-{iso2}", "get_mobile_prefixes", {"country": iso2})) for iso2 in COUNTRIES
    ]
    cases.append(("p-ZZ", _call("p-ZZ", "get_mobile_prefixes", {"country": "ZZ"})))
    cases += [
        (f"n{i}", _call(f"n{i}", "correct_phone_number", _numbers(pair))) for i, pair in enumerate(WRITTEN)
    ]
    cases.append(("all", _call("all", "correct_phone_number", _numbers(*WRITTEN))))
    hundred = _numbers(*[(f"+3706186{i:04d}", "LT") for i in range(100)])
    cases.append(("hundred", _call("hundred", "correct_phone_number", hundred)))
    escaped = _numbers(("86186069ü", "LT"))
    cases.append(("escaped-ü", _call("escaped-ü", "correct_phone_number", escaped, ascii_only=True)))
    for id_ in [0, -1, 2**53 - 1, "", "ü🙂", 'a"b\\c']:
        cases.append((id_, _call(id_, "get_mobile_prefixes", {"country": "LT"})))
    return cases


def _later_cases() -> list[tuple[Any, bytes]]:
    """Lines the early path leaves to the SDK (the first of them ends it), and a call after them."""
    hundred_one = _numbers(*[(f"86186{i:04d}", "LT") for i in range(101)])
    return [
        ("lower", _call("lower", "get_mobile_prefixes", {"country": "lt"})),
        ("meta", _call("meta", "get_mobile_prefixes", {"country": "LT"}, _meta={"progressToken": "t"})),
        ("hundred-one", _call("hundred-one", "correct_phone_number", hundred_one)),
        ("none", _call("none", "correct_phone_number", {"numbers": []})),
        ("long", _call("long", "correct_phone_number", _numbers(("8" * 41, "LT")))),
        ("unknown-tool", _call("unknown-tool", "get_mobile_prefixe", {"country": "LT"})),
        ("after", _call("after", "get_mobile_prefixes", {"country": "EE"})),
    ]


def _session(home: Path, lines: list[bytes], **env: str) -> tuple[dict[str, bytes], str]:
    """Every answer of one sandbox session (opened, then ``lines`` at once, as a client sends its
    first call right after ``tools/list``), by its id as JSON, as written; and its log."""
    home.mkdir()
    server = Server(process_env(home, VERTEXSMS_SANDBOX="1", VERTEXSMS_LOG_LEVEL="DEBUG", **env), home)
    try:
        opening = rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized")
        server.send(opening + rpc("list", "tools/list") + b"".join(lines))
        for _ in range(len(lines) + 2):
            assert server.next_message(timeout=60) is not None
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        answers = {json.dumps(json.loads(line).get("id")): line for line in bytes(server.raw).splitlines()}
        assert len(answers) == len(lines) + 2  # one answer per id
        return answers, server.diagnostics
    finally:
        server.finish()


def test_the_first_calls_get_the_emulators_bytes_before_the_sdk_is_imported(tmp_path: Path) -> None:
    early, later = _early_cases(), _later_cases()
    lines = [line for _, line in early + later]
    lean, lean_log = _session(tmp_path / "lean", lines)
    for name, switch in [("sdk", "VERTEX_STDIO_LEAN"), ("calls-off", "VERTEX_STDIO_LEAN_CALLS")]:
        other, other_log = _session(tmp_path / name, lines, **{switch: "0"})
        assert lean.keys() == other.keys()
        for key in other:
            assert lean[key] == other[key], key
        assert "the lean call path answered" not in other_log
    assert "the first lean call is answered; the SDK is not imported" in lean_log
    answered = re.findall(r"the lean call path answered (\d+) calls before the SDK was wanted", lean_log)
    assert set(answered) == {str(len(early))}, lean_log[-3000:]  # (logged to stderr and the file)
    # what the answers say: sample data, marked as the sandbox's; refusals in the contract's words
    first = json.loads(lean[json.dumps("p-LT")])["result"]
    assert first["isError"] is False
    assert first["_meta"] == {"vertex-stdio/sandbox": True}
    assert first["structuredContent"]["prefixes"]
    unknown = json.loads(lean[json.dumps("p-ZZ")])["result"]
    assert unknown["isError"] is True
    assert "INVALID_INPUT" in unknown["content"][0]["text"]
    corrected = json.loads(lean[json.dumps("n1")])["result"]["structuredContent"]["results"][0]
    assert corrected["number_e164"] == "+37061860698"
    assert corrected["mobile"] is True
    assert json.loads(lean[json.dumps("n16")])["result"]["structuredContent"]["results"][0]["error"]
