"""The sandbox remembers: messages and senders live in the state directory, shared by processes.

Each test runs the real ``vertex-stdio call --sandbox`` process, one after another (or at once),
as a person trying the sandbox from a terminal does; ``Book`` twins share one contract suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bridge import process_env, vertex
from vertex_stdio.vertexsms.sandbox.book import (
    SANDBOX_FILE,
    SANDBOX_PIN,
    ApiError,
    Book,
    MemoryBook,
    SqliteBook,
)
from vertex_stdio.vertexsms.tools import senders

SEND = {"to": "+37061234567", "from": "ACME", "message": "Your table is ready"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return process_env(tmp_path, VERTEXSMS_DUPLICATE_WINDOW="0")


def call(env: dict[str, str], tool: str, arguments: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """``vertex-stdio call TOOL --sandbox --json ARGS`` as its own process: exit code, JSON, stderr."""
    done = vertex(env, "call", tool, "--sandbox", "--json", json.dumps(arguments), timeout=60)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.slow
def test_a_message_sent_by_one_process_has_a_status_in_the_next(env: dict[str, str], tmp_path: Path) -> None:
    """send_sms in one process, get_sms_status in another: found, not NOT_FOUND."""
    code, sent, _ = call(env, "send_sms", SEND)
    assert code == 0, sent
    code, status, err = call(env, "get_sms_status", {"message_id": sent["message_id"]})
    assert code == 0, (status, err)
    assert status["message_id"] == sent["message_id"]
    assert status["status"] in ("pending", "delivered"), status
    assert (tmp_path / "state" / "vertex-stdio" / SANDBOX_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_sender_ids_continue_and_a_sender_is_confirmed_by_a_later_process(env: dict[str, str]) -> None:
    """Ids go on from the last process's; the PIN the result names confirms it in a third process."""
    _, first, _ = call(env, "register_msisdn_sender", {"msisdn": "+37061234567"})
    _, second, _ = call(env, "register_msisdn_sender", {"msisdn": "+37061234568"})
    assert second["sender_id"] == first["sender_id"] + 1
    assert f"always {SANDBOX_PIN}" in first["next"]
    assert "[SANDBOX]" in first["next"]
    code, confirmed, err = call(
        env, "confirm_msisdn_sender", {"sender_id": first["sender_id"], "code": SANDBOX_PIN}
    )
    assert (code, confirmed.get("confirmed")) == (0, True), (confirmed, err)
    code, again, _ = call(
        env, "confirm_msisdn_sender", {"sender_id": first["sender_id"], "code": SANDBOX_PIN}
    )
    assert code == 1
    assert "already confirmed" in again["error"]["message"]


@pytest.mark.slow
def test_processes_at_once_never_share_an_id(env: dict[str, str]) -> None:
    """Four processes registering senders at the same time get four different ids."""
    numbers = [f"+3706123450{i}" for i in range(4)]
    with ThreadPoolExecutor(len(numbers)) as pool:
        answers = list(pool.map(lambda n: call(env, "register_msisdn_sender", {"msisdn": n}), numbers))
    ids = [body.get("sender_id") for code, body, _ in answers]
    assert all(code == 0 for code, _, _ in answers), answers
    assert len(set(ids)) == len(numbers), ids


@pytest.mark.slow
def test_sandbox_errors_carry_the_marker(env: dict[str, str]) -> None:
    """A refusal from the emulator says it is the sandbox's, in the envelope's message."""
    code, refused, _ = call(env, "send_sms", {**SEND, "to": "+819012345678"})
    assert code == 1
    assert refused["error"]["message"].startswith("[SANDBOX] "), refused


@pytest.mark.slow
def test_a_damaged_file_is_said_and_the_sandbox_still_answers(env: dict[str, str], tmp_path: Path) -> None:
    """Garbage in sandbox.sqlite3: a warning naming the file and the fix; calls still work (in memory)."""
    path = tmp_path / "state" / "vertex-stdio" / SANDBOX_FILE
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(b"not a database" * 100)
    path.chmod(0o600)
    code, sent, err = call(env, "send_sms", SEND)
    assert code == 0, sent
    assert str(path) in err
    assert "Delete that file" in err


def test_the_tools_name_the_emulators_pin() -> None:
    """The PIN register_msisdn_sender names in the sandbox is the one the emulator accepts."""
    assert senders.SANDBOX_PIN == SANDBOX_PIN


@pytest.fixture(params=["memory", "sqlite"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Book]:
    made: Book = MemoryBook() if request.param == "memory" else SqliteBook(tmp_path / SANDBOX_FILE)
    try:
        yield made
    finally:
        made.close()


def test_book_remembers_messages(book: Book) -> None:
    """A message is found with its time and test mode; an unknown id is None."""
    message_id = book.new_message("2", 1000.0)
    assert book.message(message_id) == (1000.0, "2")
    assert book.message("sandbox-0") is None
    assert book.new_message(None, 1.0) != message_id


def test_book_senders_follow_the_rules(book: Book) -> None:
    """Ids count up; a taken name (any case) is 409; confirmation: 404, 400 naming the PIN, then 409."""
    first = book.new_sender("Acme", "AlphaNumeric")
    msisdn = book.new_sender("37061234567", "MSISDN")
    assert msisdn == first + 1
    refusals = [
        (lambda: book.new_sender("ACME", "AlphaNumeric"), 409),
        (lambda: book.confirm_sender(999_999, SANDBOX_PIN), 404),
        (lambda: book.confirm_sender(first, SANDBOX_PIN), 409),
        (lambda: book.confirm_sender(msisdn, "54321"), 400),
    ]
    for attempt, status in refusals:
        with pytest.raises(ApiError) as caught:
            attempt()
        assert caught.value.status == status
    book.confirm_sender(msisdn, SANDBOX_PIN)
    with pytest.raises(ApiError, match="already confirmed"):
        book.confirm_sender(msisdn, SANDBOX_PIN)


def test_book_hlr_ids_count_up(book: Book) -> None:
    first = book.new_hlr()
    assert book.new_hlr() == first + 1


def test_sqlite_book_is_shared_by_two_openers(tmp_path: Path) -> None:
    """Two books on one file (as two processes): each sees the other's senders and messages."""
    one, two = SqliteBook(tmp_path / SANDBOX_FILE), SqliteBook(tmp_path / SANDBOX_FILE)
    try:
        sender = one.new_sender("37061234567", "MSISDN")
        assert two.new_sender("37061234568", "MSISDN") == sender + 1
        two.confirm_sender(sender, SANDBOX_PIN)
        message_id = two.new_message(None, 5.0)
        assert one.message(message_id) == (5.0, None)
    finally:
        one.close()
        two.close()
