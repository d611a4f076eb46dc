"""Confirmation before a send, where the client can show a form: accept sends, decline does not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitRequestParams, ElicitResult

from bridge import emulator_env, envelope, ok, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator

pytestmark = pytest.mark.anyio

SEND = {"to": "+37060000001", "from": "ACME", "message": "Dinner at eight?"}
MODES = ["legacy", "2026-07-28"]  # a server request mid-call; an input-required result


class Person:
    """An elicitation callback that answers ``action`` and remembers what it was asked."""

    def __init__(self, action: str, send: bool = True) -> None:
        self.action = action
        self.send = send
        self.asked: list[str] = []

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        content = {"send": self.send} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


async def _call(emulator: Emulator, path: Path, mode: str, person: Person | None, **changes: Any) -> Any:
    settings = settings_for(emulator, **{"confirm_sends": True, **changes})
    server = _server(settings, path)
    async with Client(server, mode=mode, elicitation_callback=person) as client:  # type: ignore[arg-type]
        return await client.call_tool("send_sms", SEND)


def _server(settings: Any, path: Path) -> Any:
    from vertex_stdio.vertexsms.server import build_server

    return build_server(
        settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal_for(settings, path=path)
    )


@pytest.mark.parametrize("mode", MODES)
async def test_accepting_sends_after_asking_with_parts_and_price(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """The person is asked "Send 1 SMS part to +370…, €…?" and, on accept, it is sent once; the
    price asked about is the result's and the journal's."""
    person = Person("accept")
    result = ok(await _call(emulator, tmp_path / "j.sqlite3", mode, person))
    (question,) = person.asked
    assert question.startswith("Send 1 SMS part to +37060000001 from ACME, €0.0390 (VertexSMS's quote)")
    assert SEND["message"] in question
    assert len(emulator.journal_for("POST", "/sms")) == 1
    (record,) = SqliteStore(tmp_path / "j.sqlite3").records(0)
    assert result["price_eur"] == record.price_eur == 0.039
    assert record.price_source == "VertexSMS quote"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("action", "send"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_declining_sends_nothing(
    emulator: Emulator, tmp_path: Path, mode: str, action: str, send: bool
) -> None:
    """Decline, cancel or an unticked box: DECLINED, not_sent, no POST, nothing journaled."""
    path = tmp_path / "j.sqlite3"
    error = envelope(await _call(emulator, path, mode, Person(action, send)))
    assert (error["code"], error["outcome"], error["retryable"]) == ("DECLINED", "not_sent", False)
    assert emulator.journal_for("POST", "/sms") == []
    assert not path.exists() or SqliteStore(path).records(0) == []


@pytest.mark.parametrize("mode", MODES)
async def test_no_question_when_turned_off(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    """With VERTEXSMS_CONFIRM_SENDS=0 a client with or without elicitation sends unasked (a client
    without it is otherwise sent to the browser: tests/vertexsms/approval)."""
    ok(await _call(emulator, tmp_path / "a.sqlite3", mode, None, confirm_sends=False))
    person = Person("decline")
    ok(await _call(emulator, tmp_path / "b.sqlite3", mode, person, confirm_sends=False))
    assert person.asked == []
    assert len(emulator.journal_for("POST", "/sms")) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_a_send_that_would_be_refused_is_not_asked_about(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """A duplicate answers DUPLICATE_SEND without bothering the person first."""
    path = tmp_path / "j.sqlite3"
    ok(await _call(emulator, path, mode, None, duplicate_window=10, confirm_sends=False))
    person = Person("accept")
    error = envelope(await _call(emulator, path, mode, person, duplicate_window=10))
    assert error["code"] == "DUPLICATE_SEND"
    assert person.asked == []
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
async def test_the_question_shows_the_whole_text_as_sent_with_hidden_characters_visible(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """Through the real process: a long text (six UCS-2 parts) is shown whole, not cut; a tab, a
    no-break space and an emoji's zero-width joiner are written as ⟨U+…⟩; a zero-width space and
    the trailing space are gone (they are not sent); the recipient is the corrected E.164 number
    and the sender is trimmed, as VertexSMS receives them."""
    tail = "URGENT: your bank card is blocked, confirm at https://example.invalid/verify now. "
    text = "See you at the usual place!\t\u200b" + tail * 4 + "Love,\u00a0Mum 👩\u200d👧 "
    args = {"to": "060000001", "correctBy": "LT", "from": "ACME ", "message": text}
    env = emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_CONFIRM_SENDS="1",
    )
    person = Person("accept")
    params = StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=env)
    async with Client(params, mode=mode, elicitation_callback=person) as client:  # type: ignore[arg-type]
        ok(await client.call_tool("send_sms", args))
    (question,) = person.asked
    shown = "See you at the usual place!⟨U+0009⟩" + tail * 4 + "Love,⟨U+00A0⟩Mum 👩⟨U+200D⟩👧"
    assert question.startswith("Send 6 SMS parts to +37060000001 from ACME, €0.2340 (VertexSMS's quote)?"), (
        question
    )
    assert question.endswith(f"\n\n“{shown}”"), question
    (post,) = emulator.journal_for("POST", "/sms")
    assert post.json()["message"] == shown.replace("⟨U+0009⟩", "\t").replace("⟨U+00A0⟩", "\u00a0").replace(
        "⟨U+200D⟩", "\u200d"
    )
