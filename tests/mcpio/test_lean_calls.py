"""The lean call path through the real process: byte-for-byte the SDK's answers, and a session alike.

Two processes against one scripted hosted server (``hosted_script``): the lean call path on,
and ``VERTEX_STDIO_LEAN=0`` (the SDK answers everything).  The same calls, typed every way
people and clients type them -- valid, invalid, extra or missing arguments, wrong types, huge,
unicode and escapes, ids of every kind, ``_meta``, and every kind of upstream failure -- must
get the same bytes, and the lean process must have answered the plain ones itself.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from hosted_script import BEHAVIOURS, TOKEN
from lean_session import Hosted, hosted_server, lean_counts, lean_server, opening
from stdio_server import Server

from bridge import rpc

pytestmark = pytest.mark.slow

PLAIN_COUNTRIES = [c for c in BEHAVIOURS if c not in ("DK", "AT")]  # the slow ones: their own tests


def _call(id_: Any, name: str, arguments: Any, **extra: Any) -> bytes:
    params = {"name": name, "arguments": arguments, **extra}
    message = {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def _numbers(*numbers: str, country: str = "LT") -> dict[str, Any]:
    return {"numbers": [{"number": n, "country": country} for n in numbers]}


def _cases() -> list[tuple[Any, bytes]]:
    """(id, line): every line answered once, by the id it carries."""
    lines: list[tuple[Any, bytes]] = []
    for i, country in enumerate(PLAIN_COUNTRIES):
        lines.append((f"p{i}", _call(f"p{i}", "get_mobile_prefixes", {"country": country})))
    ids: list[Any] = [0, -1, 2**53 - 1, 2**53, "", "ü🙂", 'a"b\\c', "x" * 300]
    lines += [(id_, _call(id_, "correct_phone_number", _numbers("861860698"))) for id_ in ids]
    odd = {
        "escaped": json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "escaped-ü",
                "method": "tools/call",
                "params": {"name": "correct_phone_number", "arguments": _numbers("86186069ü")},
            },
            ensure_ascii=True,
        ).encode()
        + b"\n",
        "surrogates": b'{"jsonrpc":"2.0","id":"surrogates","method":"tools/call","params":{"name":"correct_phone_number","arguments":{"numbers":[{"number":"8618\\ud83d\\ude42","country":"LT"}]}}}\n',
        "lone": b'{"jsonrpc":"2.0","id":"lone","method":"tools/call","params":{"name":"correct_phone_number","arguments":{"numbers":[{"number":"8618\\ud800","country":"LT"}]}}}\n',
        "bom": b"\xef\xbb\xbf" + _call("bom", "get_mobile_prefixes", {"country": "LT"}),
        "spaced": b'  { "jsonrpc" : "2.0" , "id" : "spaced" , "method" : "tools/call" , "params" : { "name" : "get_mobile_prefixes" , "arguments" : { "country" : "LT" } } }  \r\n',
        "twice": b'{"jsonrpc":"2.0","id":"twice","method":"tools/call","params":{"name":"get_mobile_prefixes","arguments":{"country":"LT","country":"EE"}}}\n',
        "nan": b'{"jsonrpc":"2.0","id":"nan","method":"tools/call","params":{"name":"get_mobile_prefixes","arguments":{"country":NaN}}}\n',
        "bigint": b'{"jsonrpc":"2.0","id":"bigint","method":"tools/call","params":{"name":"get_mobile_prefixes","arguments":{"country":'
        + b"9" * 5000
        + b"}}}\n",
    }
    lines += list(odd.items())
    variants: dict[str, tuple[str, Any, dict[str, Any]]] = {
        "lower": ("get_mobile_prefixes", {"country": "lt"}, {}),
        "int-country": ("get_mobile_prefixes", {"country": 37}, {}),
        "null-country": ("get_mobile_prefixes", {"country": None}, {}),
        "no-args": ("get_mobile_prefixes", {}, {}),
        "extra-arg": ("get_mobile_prefixes", {"country": "LT", "page": 1}, {}),
        "args-null": ("get_mobile_prefixes", None, {}),
        "args-list": ("get_mobile_prefixes", ["LT"], {}),
        "meta": ("get_mobile_prefixes", {"country": "LT"}, {"_meta": {"progressToken": "t"}}),
        "meta-empty": ("get_mobile_prefixes", {"country": "LT"}, {"_meta": {}}),
        "unknown-tool": ("get_mobile_prefixe", {"country": "LT"}, {}),
        "other-tool": ("get_operator", {"operatorId": 1}, {}),
        "hundred": ("correct_phone_number", _numbers(*[f"86186{i:04d}" for i in range(100)]), {}),
        "hundred-one": ("correct_phone_number", _numbers(*[f"86186{i:04d}" for i in range(101)]), {}),
        "none": ("correct_phone_number", {"numbers": []}, {}),
        "as-string": ("correct_phone_number", {"numbers": json.dumps(_numbers("861860698")["numbers"])}, {}),
        "long-number": ("correct_phone_number", _numbers("8" * 41), {}),
        "unicode-number": ("correct_phone_number", _numbers("٨٦١٨٦٠٦٩٨", "(370)-618-60698 ✓"), {}),
        "item-extra": (
            "correct_phone_number",
            {"numbers": [{"number": "861860698", "country": "LT", "x": [1]}]},
            {},
        ),
        "item-missing": ("correct_phone_number", {"numbers": [{"number": "861860698"}]}, {}),
        "item-int": ("correct_phone_number", {"numbers": [{"number": 861860698, "country": "LT"}]}, {}),
        "bad-country": ("correct_phone_number", _numbers("861860698", country="Lithuania"), {}),
    }
    lines += [(key, _call(key, name, args, **extra)) for key, (name, args, extra) in variants.items()]
    lines.append(
        (
            "float-id",
            b'{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"get_mobile_prefixes","arguments":{"country":"LT"}}}\n',
        )
    )
    lines.append(("params-extra", _call("params-extra", "get_mobile_prefixes", {"country": "LT"}, task={})))
    return lines


@pytest.fixture(scope="module")
def hosted() -> Iterator[Hosted]:
    with hosted_server() as found:
        yield found


def _server(home: Path, url: str, lean: str, timeout: str = "1") -> AbstractContextManager[Server]:
    """``lean_server`` with the lean paths on ("1") or off ("0": the SDK answers everything)."""
    return lean_server(home, url, VERTEX_STDIO_LEAN=lean, VERTEXSMS_HTTP_TIMEOUT=timeout)


def _raw_answers(server: Server) -> dict[str, list[bytes]]:
    """Each answer line as written, by its id (several lines answer ``null``)."""
    found: dict[str, list[bytes]] = {}
    for line in bytes(server.raw).splitlines():
        found.setdefault(json.dumps(json.loads(line).get("id")), []).append(line)
    return {key: sorted(lines) for key, lines in found.items()}


def _session(
    home: Path, url: str, lean: str, lines: list[bytes], version: str = "2025-11-25"
) -> tuple[dict[str, list[bytes]], str]:
    """Every answer of one session that opens, sends ``lines`` and closes stdin."""
    home.mkdir()
    with _server(home, url, lean) as server:
        server.send(opening(version))
        server.send(b"".join(lines))
        for _ in range(len(lines) + 1):  # every answer, before stdin closes
            assert server.next_message(timeout=60) is not None
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        return _raw_answers(server), server.diagnostics


def test_every_call_typed_every_way_gets_the_sdks_bytes(tmp_path: Path, hosted: Hosted) -> None:
    url, script = hosted.url, hosted.script
    cases = _cases()
    lines = [line for _, line in cases]
    lean, lean_log = _session(tmp_path / "lean", url, "1", lines)
    sdk, sdk_log = _session(tmp_path / "sdk", url, "0", lines)
    assert lean.keys() == sdk.keys()
    assert sum(len(v) for v in lean.values()) == len(cases) + 1  # and the initialize
    for key in sdk:
        assert lean[key] == sdk[key], key
    assert TOKEN not in b"".join(b"".join(v) for v in lean.values()).decode()
    # the lean path answered every plain call: each country the script knows but DK, seven of the
    # ids (2**53 is the SDK's), the escaped, BOM and spaced lines, and three corrections
    assert lean_counts(lean_log) == (len(PLAIN_COUNTRIES) + 7 + 3 + 3, 0)
    assert "the lean call path" not in sdk_log
    assert script.calls > 0


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "1999-01-01"])
def test_every_protocol_version_gets_the_same_bytes(tmp_path: Path, hosted: Hosted, version: str) -> None:
    url = hosted.url
    lines = [
        _call(1, "get_mobile_prefixes", {"country": "LT"}),
        _call(2, "get_mobile_prefixes", {"country": "EE"}),
    ]
    lean, lean_log = _session(tmp_path / "lean", url, "1", lines, version)
    sdk, _ = _session(tmp_path / "sdk", url, "0", lines, version)
    assert lean == sdk
    # a 1999 session is answered with the latest version: the SDK answers all of it, as any unknown one
    assert lean_counts(lean_log) == ((0, 0) if version == "1999-01-01" else (2, 0))
    assert b'"isError":false' in lean["1"][0]


def test_a_timeout_is_the_sdks_words(tmp_path: Path, hosted: Hosted) -> None:
    url = hosted.url
    lines = [_call("dk", "get_mobile_prefixes", {"country": "DK"})]
    lean, lean_log = _session(tmp_path / "lean", url, "1", lines)
    sdk, _ = _session(tmp_path / "sdk", url, "0", lines)
    assert lean == sdk
    assert b"did not answer in time" in lean['"dk"'][0]
    assert lean_counts(lean_log) == (1, 0)


def test_a_cancelled_lean_call_is_never_answered(tmp_path: Path, hosted: Hosted) -> None:
    url = hosted.url
    with _server(tmp_path, url, "1", timeout="30") as server:
        server.initialize()
        server.send(_call("slow", "get_mobile_prefixes", {"country": "CZ"}))
        server.send(
            rpc(None, "notifications/cancelled", {"requestId": "slow", "reason": "the person moved on"})
        )
        server.send(_call("next", "get_mobile_prefixes", {"country": "LT"}))
        assert "result" in server.answers({"next"})["next"]
        assert server.close_stdin() < 15
        assert server.proc.returncode == 0
        assert all(m.get("id") != "slow" for m in server.messages)
        assert lean_counts(server.diagnostics) == (1, 0)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_lets_the_lean_calls_in_flight_answer(
    tmp_path: Path, hosted: Hosted, signum: signal.Signals, status: int
) -> None:
    url = hosted.url
    with _server(tmp_path, url, "1", timeout="30") as server:
        server.initialize()
        server.send(_call("slow", "get_mobile_prefixes", {"country": "CZ"}))
        server.send(rpc("list", "tools/list"))
        assert "result" in server.answers({"list"})["list"]  # the call is in flight by now
        server.proc.send_signal(signum)
        assert server.proc.wait(timeout=15) == status
        assert server.answers({"slow"})["slow"]["result"]["isError"] is False


def test_the_in_flight_limit_counts_lean_calls(tmp_path: Path, hosted: Hosted) -> None:
    url, script = hosted.url, hosted.script
    try:
        with _server(tmp_path, url, "1", timeout="60") as server:
            server.initialize()
            ids = [f"c{i}" for i in range(300)]
            script.release.clear()
            server.send(b"".join(_call(i, "get_mobile_prefixes", {"country": "AT"}) for i in ids))
            # the hosted server holds the rest
            busy = [server.next_message(timeout=60) for _ in range(300 - 256)]
            assert {m["error"]["code"] for m in busy if m is not None} == {-32000}
            script.release.set()
            found = server.answers(set(ids), timeout=60)
            assert sorted(i for i in ids if "error" in found[i]) == sorted(
                m["id"] for m in busy if m is not None
            )
            assert all(found[i]["result"]["isError"] is False for i in ids if "result" in found[i])
            assert sum("result" in found[i] for i in ids) == 256
            assert server.close_stdin() < 15
    finally:
        script.release.set()
