"""The journal cannot be made to forget: a clock that jumps, a file deleted or replaced under a server.

Clock jumps go through the tools in-process with the journal's clock seam (no sleeping); the
file's replacement through the real ``serve`` process, its journal file removed or swapped
between two sends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from stdio_server import Server

from bridge import emulator_env, envelope, ok, rpc, settings_for
from vertex_stdio.core.credentials import StaticTokenProvider
from vertex_stdio.vertexsms.journal import journal_for
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator, Fault
from vertex_stdio.vertexsms.server import build_server

SEND = {"to": "+37060000001", "from": "ACME", "message": "Your parcel is ready"}
OTHER = {**SEND, "message": "Your parcel is late"}
T0 = 1_800_000_000.0
DAY = 86400.0


@asynccontextmanager
async def bridge(emulator: Emulator, path: Path, now: float) -> AsyncIterator[Client]:
    """A server process's worth of bridge whose clock reads ``now`` (one process = one clock)."""
    settings = settings_for(emulator, duplicate_window=10)
    journal = journal_for(settings, path=path, clock=lambda: now)
    server = build_server(settings, StaticTokenProvider(SANDBOX_TOKEN), journal=journal)
    async with Client(server, mode="legacy") as client:
        yield client


def _sends(emulator: Emulator) -> int:
    return len(emulator.journal_for("POST", "/sms"))


def _started(path: Path) -> list[float]:
    store = SqliteStore(path)
    try:
        return sorted(r.started for r in store.records(0))
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_clock_100_days_ahead_prunes_nothing_and_the_send_does_not_go_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The issue's case: a send; one call from a process whose clock is 100 days ahead; then the
    same send with the right clock.  Nothing earlier was pruned, and the repeat is not sent: the
    future-dated record makes the journal refuse (not_sent) until the clock is right."""
    path = tmp_path / "j.sqlite3"
    async with bridge(emulator, path, T0) as client:
        ok(await client.call_tool("send_sms", SEND))
    async with bridge(emulator, path, T0 + 100 * DAY) as client:
        ok(await client.call_tool("send_sms", OTHER))
    assert _started(path) == [T0, T0 + 100 * DAY]  # the first record survived the jump
    async with bridge(emulator, path, T0 + 60) as client:
        error = envelope(await client.call_tool("send_sms", SEND))
    assert (error["code"], error["outcome"], error["retryable"]) == ("UPSTREAM_ERROR", "not_sent", False)
    assert "clock" in error["message"]
    assert f"mv '{path}' '{path}.ahead'" in error["message"]
    assert _sends(emulator) == 2
    assert _started(path) == [T0, T0 + 100 * DAY]  # the refusal recorded nothing


@pytest.mark.anyio
@pytest.mark.parametrize(("behind", "sent"), [(299.0, True), (301.0, False), (3600.0, False)])
async def test_a_clock_behind_the_journal_is_trusted_only_within_the_skew(
    emulator: Emulator, tmp_path: Path, behind: float, sent: bool
) -> None:
    """A clock up to five minutes behind the journal's newest record is a small correction; more
    is a jump, and a billable call is refused, not_sent, before anything leaves."""
    path = tmp_path / "j.sqlite3"
    async with bridge(emulator, path, T0) as client:
        ok(await client.call_tool("send_sms", SEND))
    async with bridge(emulator, path, T0 - behind) as client:
        result = await client.call_tool("send_sms", OTHER)
    if sent:
        ok(result)
    else:
        assert envelope(result)["outcome"] == "not_sent"
    assert _sends(emulator) == (2 if sent else 1)


@pytest.mark.anyio
async def test_pruning_is_measured_from_the_journals_newest_record(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Records 100 and 2 days old and one now; a process 100 days ahead opens the journal: only
    the record older than 90 days before the newest one goes (the process's clock decides nothing)."""
    path = tmp_path / "j.sqlite3"
    for at in (T0 - 100 * DAY, T0 - 2 * DAY, T0):
        async with bridge(emulator, path, at) as client:
            ok(await client.call_tool("send_sms", {**SEND, "message": f"sent at {at}"}))
    async with bridge(emulator, path, T0 + 100 * DAY) as client:
        await client.call_tool("get_sms_status", {"message_id": "nothing"})  # opens the journal
        ok(await client.call_tool("send_sms", OTHER))
    assert _started(path) == [T0 - 2 * DAY, T0, T0 + 100 * DAY]


@pytest.mark.anyio
async def test_a_clock_behind_the_journal_prunes_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """A process whose clock is a year behind opens the journal: nothing is pruned by it."""
    path = tmp_path / "j.sqlite3"
    for at in (T0 - 100 * DAY, T0):
        async with bridge(emulator, path, at) as client:
            ok(await client.call_tool("send_sms", {**SEND, "message": f"sent at {at}"}))
    async with bridge(emulator, path, T0 - 365 * DAY) as client:
        envelope(await client.call_tool("send_sms", OTHER))
    assert _started(path) == [T0 - 100 * DAY, T0]


# --- the file deleted or replaced under a running server ------------------------------------


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    return emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
    )


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    proc = Server(env, tmp_path)
    try:
        proc.initialize()
        yield proc
    finally:
        proc.finish()


def _journal(tmp_path: Path) -> Path:
    return tmp_path / "state" / "vertex-stdio" / "journal.sqlite3"


def _remove(path: Path, *suffixes: str) -> None:
    for suffix in suffixes:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _delete_all(path: Path) -> None:
    _remove(path, "", "-wal", "-shm")


def _delete_the_file_only(path: Path) -> None:
    _remove(path, "")


def _replace(path: Path) -> None:
    """Another journal moved over it (as a restore from backup or a mistaken copy would)."""
    other = path.with_name("other.sqlite3")
    SqliteStore(other).close()
    _remove(other, "-wal", "-shm")
    os.replace(other, path)


def _call(server: Server, id_: int, args: dict[str, Any]) -> dict[str, Any]:
    server.send(rpc(id_, "tools/call", {"name": "send_sms", "arguments": args}))
    result: dict[str, Any] = server.answers({id_})[id_]["result"]
    return result


def _history(env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "history", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = json.loads(done.stdout)["records"]
    return records


@pytest.mark.slow
@pytest.mark.parametrize("change", [_delete_all, _delete_the_file_only, _replace])
def test_a_journal_deleted_or_replaced_under_the_server_is_reopened_with_its_last_day(
    server: Server, emulator: Emulator, env: dict[str, str], tmp_path: Path, change: Any
) -> None:
    """The server sends; its journal file is deleted or replaced; the same send through the same
    server is still DUPLICATE_SEND (its last day came along into the new file), a new send goes,
    and both are in the file every other process reads."""
    path = _journal(tmp_path)
    first = _call(server, 1, SEND)
    assert not first.get("isError"), first
    change(path)
    again = _call(server, 2, SEND)
    error = json.loads(again["content"][0]["text"])["error"]
    assert error["code"] == "DUPLICATE_SEND"
    assert error["earlier_message_id"] == first["structuredContent"]["message_id"]
    other = _call(server, 3, OTHER)
    assert not other.get("isError"), other
    assert _sends(emulator) == 2
    ids = [r["message_id"] for r in _history(env)]
    assert ids == [other["structuredContent"]["message_id"], first["structuredContent"]["message_id"]]
    assert "was deleted or replaced; reopening it" in server.diagnostics


@pytest.mark.slow
def test_a_journal_that_cannot_be_reopened_refuses_the_send(
    server: Server, emulator: Emulator, tmp_path: Path
) -> None:
    """The journal's place is taken by a directory: the next send is refused, not_sent, nothing POSTed."""
    path = _journal(tmp_path)
    assert not _call(server, 1, SEND).get("isError")
    _delete_all(path)
    path.mkdir()
    try:
        refused = _call(server, 2, OTHER)
        error = json.loads(refused["content"][0]["text"])["error"]
        assert (error["code"], error["outcome"]) == ("UPSTREAM_ERROR", "not_sent")
        assert str(path) in error["message"]
        assert _sends(emulator) == 1
    finally:
        shutil.rmtree(path)


@pytest.mark.slow
def test_a_send_in_flight_when_the_file_goes_is_finished_in_the_new_file(
    server: Server, emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """The journal is deleted while VertexSMS is answering: the pending record is carried into
    the new file and finished there as sent, with its message id."""
    emulator.inject(Fault(method="POST", path="/sms", delay=1.5))
    server.send(rpc(1, "tools/call", {"name": "send_sms", "arguments": SEND}))
    deadline = time.monotonic() + 10
    while not emulator.journal_for("POST", "/sms") and time.monotonic() < deadline:
        time.sleep(0.05)
    _delete_all(_journal(tmp_path))
    result = server.answers({1})[1]["result"]
    assert not result.get("isError"), result
    (record,) = _history(env)
    assert (record["outcome"], record["message_id"]) == ("sent", result["structuredContent"]["message_id"])


@pytest.mark.slow
def test_a_call_after_the_file_was_deleted_under_an_idle_server_is_still_a_duplicate(
    server: Server, emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """The issue's case: the server sends, its journal is deleted, and the next ``call`` (another
    process) repeats the send.  The idle server notices the file went (it looks every second),
    carries its last day into the new file, and the ``call`` is DUPLICATE_SEND: one POST."""
    first = _call(server, 1, SEND)
    assert not first.get("isError"), first
    _delete_all(_journal(tmp_path))
    deadline = time.monotonic() + 15
    while "reopening it" not in server.diagnostics and time.monotonic() < deadline:
        time.sleep(0.1)
    again = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json", json.dumps(SEND)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    error = json.loads(again.stdout)["error"]
    assert (error["code"], error["earlier_message_id"]) == (
        "DUPLICATE_SEND",
        first["structuredContent"]["message_id"],
    )
    assert _sends(emulator) == 1
