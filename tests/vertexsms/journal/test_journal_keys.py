"""The duplicate guard keys on what VertexSMS receives: every way of typing one message is one send.

Through the real process against the emulator (which counts the POSTs and keeps their bodies):
a send made by ``serve``, then the same message typed differently through ``call``; several
``call`` processes racing with different spellings of one message; and an error that quotes
the message back, which the journal must not keep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stdio_server import Server

from bridge import connected, emulator_env, envelope, no_recipient_caps, ok, rpc
from vertex_stdio.core.errors import InvalidInput
from vertex_stdio.vertexsms.outgoing import OutgoingSms, destination, outgoing, sms_text
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

TEXT = "Your table at Café Žalias is ready"
BASE = {"to": "+37060000001", "from": "Test", "message": TEXT}
SENT = OutgoingSms(to="37060000001", sender="Test", text=TEXT)

# Each row: how the same message may be typed again (changes to BASE; a message change is a
# function of the text, so each row of the process test can use a text of its own).
VARIANTS: dict[str, dict[str, Any]] = {
    "identical": {},
    "no plus": {"to": "37060000001"},
    "00 prefix": {"to": "0037060000001"},
    "spaces and dashes": {"to": "+370 600-00001"},
    "parentheses": {"to": "+370 (600) 00001"},
    "national with correctBy": {"to": "060000001", "correctBy": "LT"},
    "old trunk with correctBy": {"to": "860000001", "correctBy": "LT"},
    "bare national with correctBy": {"to": "60000001", "correctBy": "LT"},
    "international with correctBy": {"to": "37060000001", "correctBy": "LT"},
    "NFD": {"message": lambda text: unicodedata.normalize("NFD", text)},
    "zero-width space": {"message": lambda text: text.replace("table", "ta\u200bble")},
    "word joiner and soft hyphen": {"message": lambda text: text.replace("ready", "re\u2060ad\u00ady")},
    "BOM in front": {"message": lambda text: "\ufeff" + text},
    "trailing space": {"message": lambda text: text + " "},
    "surrounding whitespace": {"message": lambda text: f"\n {text}\t"},
    "sender with a trailing space": {"from": "Test "},
    "sender with a leading space": {"from": " Test"},
}


def _args(changes: dict[str, Any], base: dict[str, Any] = BASE) -> dict[str, Any]:
    """``base`` typed as ``changes`` says (a message change applies to ``base``'s own text)."""
    args = {**base, **changes}
    if "message" in changes:
        args["message"] = changes["message"](base["message"])
    return args


@pytest.mark.parametrize("changes", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_spelling_is_the_same_outgoing_message(changes: dict[str, Any]) -> None:
    """The pure rule: each variant normalises to exactly what the first send put on the wire."""
    args = _args(changes)
    assert outgoing(args["to"], args["from"], args["message"], args.get("correctBy")) == SENT


@pytest.mark.parametrize(
    ("raw", "country", "digits"),
    [
        ("(212) 555-1234", "US", "12125551234"),
        ("1 212 555 1234", "US", "12125551234"),
        ("011 370 600 00001", "US", "37060000001"),
        ("06 20 123 4567", "HU", "36201234567"),
        ("8 916 123-45-67", "RU", "79161234567"),
        ("0151 1234 5678", "DE", "4915112345678"),
        ("0044 20 7946 0000", "DE", "442079460000"),
        ("393 123 4567", "IT", "393931234567"),  # an Italian mobile, not +39 312...
        ("29 123 456", "LV", "37129123456"),
        ("45 12 34 56", "DK", "4545123456"),
    ],
)
def test_national_numbers_are_corrected_before_sending(raw: str, country: str, digits: str) -> None:
    assert destination(raw, country) == digits


@pytest.mark.parametrize(("raw", "country"), [("060000001", None), ("+0012345678", None), ("0600", "ZZ")])
def test_numbers_that_cannot_be_read_are_refused_with_what_to_do(raw: str, country: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        destination(raw, country)
    assert "+37060000001" in caught.value.message


def test_joiners_that_build_emoji_and_words_are_kept_others_go() -> None:
    assert sms_text("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want": the joiner is spelling
    assert sms_text(persian) == persian
    assert sms_text("Hi\u200dthere\u200c") == "Hithere"
    with pytest.raises(InvalidInput):
        sms_text(" \u200b\ufeff ")


@pytest.mark.anyio
async def test_quote_sms_reads_the_number_as_send_sms_does(emulator: Emulator) -> None:
    """quote_sms takes correctBy too and prices the normalised message: a national number with
    correctBy, and its international form with a zero-width space in the text, get one quote;
    a national number without correctBy is INVALID_INPUT saying what to pass."""
    async with connected(emulator) as client:
        national = ok(await client.call_tool("quote_sms", {**BASE, "to": "060000001", "correctBy": "LT"}))
        typed = ok(await client.call_tool("quote_sms", {**BASE, "message": "\u200b" + TEXT + " "}))
        error = envelope(await client.call_tool("quote_sms", {**BASE, "to": "060000001"}))
    assert national == typed
    assert national["country"] == "LT"
    assert error["code"] == "INVALID_INPUT"
    assert "correctBy" in error["message"]
    bodies = [seen.json() for seen in emulator.journal_for("POST", "/sms/cost")]
    assert bodies == [SENT.body(), SENT.body()]


# --- through the real process --------------------------------------------------------------


def _env(emulator: Emulator, home: Path) -> dict[str, str]:
    return emulator_env(
        home,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
        **no_recipient_caps(home),
    )


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """The real process on the emulator, with the guard on and one journal for every process."""
    return _env(emulator, tmp_path)


@pytest.fixture(scope="module")
def shared(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """One ``serve`` process for the variant table (each row sends its own text, so rows do not
    meet in the journal they share), and the environment its ``call`` processes share with it."""
    home = tmp_path_factory.mktemp("variants")
    env = _env(emulator, home)
    proc = Server(env, home)
    try:
        proc.initialize()
        yield proc, env
    finally:
        proc.finish()


def call(env: dict[str, str], args: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json", json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def posted(emulator: Emulator) -> list[dict[str, Any]]:
    return [seen.json() for seen in emulator.journal_for("POST", "/sms")]


@pytest.mark.slow
@pytest.mark.parametrize("changes", VARIANTS.values(), ids=VARIANTS.keys())
def test_serve_then_call_with_another_spelling_sends_once(
    shared: tuple[Server, dict[str, str]], emulator: Emulator, changes: dict[str, Any]
) -> None:
    """``serve`` sends the message; ``call`` with the variant is DUPLICATE_SEND naming its id;
    VertexSMS got one POST, whose body is the normalised message (what the key was made of)."""
    server, env = shared
    row = list(VARIANTS.values()).index(changes)
    base = {**BASE, "message": f"{TEXT} (row {row})"}
    server.send(rpc(row, "tools/call", {"name": "send_sms", "arguments": base}))
    first = server.answers({row})[row]["result"]
    assert not first.get("isError"), first
    again = call(env, _args(changes, base))
    assert again.returncode == 1, again.stdout + again.stderr
    error = json.loads(again.stdout)["error"]
    assert error["code"] == "DUPLICATE_SEND"
    assert error["earlier_message_id"] == first["structuredContent"]["message_id"]
    assert posted(emulator) == [{**SENT.body(), "message": base["message"]}]


@pytest.mark.slow
def test_a_variant_is_sent_as_normalised(emulator: Emulator, env: dict[str, str]) -> None:
    """The request carries the normalised message: national number corrected (no correctBy left),
    invisible characters out, NFC, trimmed; the result names the E.164 destination."""
    done = call(
        env, {**BASE, "to": "060000001", "correctBy": "LT", "from": "Test ", "message": f"\u200b{TEXT} "}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["destination"] == "+37060000001"
    (body,) = posted(emulator)
    assert body == SENT.body()  # no correctBy, no testMode: nothing else was sent


@pytest.mark.slow
def test_processes_racing_with_different_spellings_send_once(emulator: Emulator, env: dict[str, str]) -> None:
    """Six `call`s at once, each typing the message another way: one POST, five DUPLICATE_SEND."""
    emulator.inject(Fault(method="POST", path="/sms", delay=0.5, times=None))
    names = [
        "no plus",
        "00 prefix",
        "national with correctBy",
        "NFD",
        "zero-width space",
        "sender with a trailing space",
    ]
    cmd = [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json"]
    procs = [
        subprocess.Popen(
            [*cmd, json.dumps(_args(VARIANTS[name]))],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1, 1, 1, 1, 1], outs
    refused = [json.loads(o)["error"]["code"] for o, p in zip(outs, procs, strict=True) if p.returncode]
    assert refused == ["DUPLICATE_SEND"] * 5
    assert posted(emulator) == [SENT.body()]


@pytest.mark.slow
def test_an_error_quoting_the_message_leaves_no_text_in_the_journal(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """VertexSMS answers 400 quoting the text and the number: the journal keeps the error code
    and VertexSMS's numeric code, and no word of the text beyond its documented 24-character
    digit-masked preview — not in ``history --json``, not in the SQLite files."""
    text = "Meet Zanzibar courier behind warehouse seventeen tonight passphrase 928371"
    quoted = {"code": 4711, "message": f"Message '{text}' to 37060000001 rejected: {text}"}
    emulator.inject(
        Fault(
            method="POST",
            path="/sms",
            status=400,
            body=json.dumps(quoted).encode(),
            headers={"content-type": "application/json"},
        )
    )
    done = call(env, {**BASE, "message": text})
    error = json.loads(done.stdout)["error"]
    assert (error["code"], error["outcome"], error["vertex_error_code"]) == (
        "VERTEX_SEND_FAILED",
        "refused",
        4711,
    )
    shown = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "history", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    (record,) = json.loads(shown.stdout)["records"]
    assert record["outcome"] == "refused"
    assert record["detail"].startswith("VERTEX_SEND_FAILED (VertexSMS code 4711): ")
    words = text.split()
    assert not [w for w in words if w in record["detail"]]
    beyond_preview = words[3:]  # "Meet Zanzibar courier b…" is the preview
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("journal.sqlite3*"))
    for word in beyond_preview:
        assert word not in shown.stdout
        assert word.encode() not in stored
    assert "928371" not in shown.stdout
    assert b"928371" not in stored
