"""The journal across real processes: SIGTERM and EOF mid-send, racing `call`s, a runaway loop, history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from stdio_server import Server

from bridge import emulator_env, no_recipient_caps, process_env, rpc, vertex
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

SEND = {"to": "+37060000001", "from": "ACME", "message": "Your table is ready"}


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """A process environment on the emulator, with one home (so one journal) for every process."""
    return emulator_env(
        tmp_path,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
    )


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    proc = Server(env, tmp_path)
    try:
        yield proc
    finally:
        proc.finish()


def history(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = vertex(env, "history", "--json", *args)
    assert done.returncode == 0, done.stderr
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def _wait_for_post(emulator: Emulator) -> None:
    deadline = time.monotonic() + 10
    while not emulator.journal_for("POST", "/sms") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_sigterm_mid_send_finishes_recording_then_exits(
    server: Server, emulator: Emulator, env: dict[str, str], signum: int, status: int
) -> None:
    """SIGTERM (or Ctrl-C's SIGINT) while VertexSMS is slow: the send completes, its id is in
    history, the process exits 0 (130 for Ctrl-C, as shells expect)."""
    server.initialize()
    emulator.inject(Fault(method="POST", path="/sms", delay=1.5))
    server.send(rpc(1, "tools/call", {"name": "send_sms", "arguments": SEND}))
    _wait_for_post(emulator)
    server.proc.send_signal(signum)
    assert server.proc.wait(timeout=20) == status
    (record,) = history(env)["records"]
    assert record["outcome"] == "sent"
    assert record["message_id"].startswith("sandbox-")
    assert record["message_id"] in server.diagnostics  # logged, with the outcome
    assert SEND["message"] not in server.diagnostics


@pytest.mark.slow
def test_eof_mid_send_records_the_outcome(server: Server, emulator: Emulator, env: dict[str, str]) -> None:
    """stdin closed mid-send: the journal has the send as sent with its message id."""
    server.initialize()
    emulator.inject(Fault(method="POST", path="/sms", delay=1.5))
    server.send(rpc(1, "tools/call", {"name": "send_sms", "arguments": SEND}))
    _wait_for_post(emulator)
    assert server.close_stdin() < 15
    (record,) = history(env)["records"]
    assert (record["outcome"], record["tool"]) == ("sent", "send_sms")
    assert record["message_id"]


@pytest.mark.slow
def test_two_identical_calls_a_second_apart_send_once(emulator: Emulator, env: dict[str, str]) -> None:
    """`vertex-stdio call send_sms` twice: the second is DUPLICATE_SEND naming the first's id."""
    args = ("call", "send_sms", "--json", json.dumps(SEND))
    first = vertex(env, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    time.sleep(1)
    second = vertex(env, *args)
    assert second.returncode == 1
    error = json.loads(second.stdout)["error"]
    assert error["code"] == "DUPLICATE_SEND"
    assert error["earlier_message_id"] == json.loads(first.stdout)["message_id"]
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.slow
def test_processes_racing_the_same_send_send_it_once(emulator: Emulator, env: dict[str, str]) -> None:
    """Four `call`s of one send at once, against one journal: one goes, three are refused."""
    emulator.inject(Fault(method="POST", path="/sms", delay=0.5, times=None))
    cmd = [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json", json.dumps(SEND)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1, 1, 1], outs
    refused = [json.loads(o)["error"]["code"] for o, p in zip(outs, procs, strict=True) if p.returncode]
    assert refused == ["DUPLICATE_SEND"] * 3
    assert len(emulator.journal_for("POST", "/sms")) == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_runaway_loop_stops_at_the_daily_limit(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """150 different sends through the real process: 100 go, then SPEND_LIMIT, and nothing more is
    sent (the policy's per-recipient loop brake, which would stop it at 3, is off here)."""
    env.update(no_recipient_caps(tmp_path))
    params = StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=env)
    results = []
    async with Client(params, mode="legacy") as client:
        for i in range(150):
            results.append(await client.call_tool("send_sms", {**SEND, "message": f"loop {i}"}))
    sent = [r for r in results if not r.is_error]
    assert len(sent) == 100
    first_refusal = json.loads(results[100].content[0].text)["error"]  # type: ignore[union-attr]
    assert first_refusal["code"] == "SPEND_LIMIT"
    assert first_refusal["setting"] == "VERTEXSMS_MAX_MESSAGES_PER_DAY"
    assert all(r.is_error for r in results[100:])
    assert len(emulator.journal_for("POST", "/sms")) == 100
    totals = history(env)["last_24h"]["real"]
    assert totals["messages"] == 100


@pytest.mark.slow
def test_history_pending_lists_unknown_sends_with_the_next_step(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """An answer lost after VertexSMS took the send: history --pending names it and how to check."""
    emulator.inject(Fault(method="POST", path="/sms", drop_after_processing=True))
    done = vertex(env, "call", "send_sms", "--json", json.dumps(SEND))
    assert json.loads(done.stdout)["error"]["outcome"] == "unknown"
    table = vertex(env, "history", "--pending")
    assert table.returncode == 0
    assert "1 call(s) whose outcome is not known" in table.stdout
    assert "VertexSMS dashboard" in table.stdout
    full = vertex(env, "history", "--since", "1h")
    assert "unknown" in full.stdout
    assert "Last 24 h: 1 of 100 messages" in full.stdout
    assert vertex(env, "history", "--since", "soon").returncode == 2


@pytest.mark.slow
def test_sandbox_sends_are_marked_in_history(tmp_path: Path) -> None:
    """`--sandbox` sends are journaled as sandbox, shown marked, and counted apart from real ones."""
    env = process_env(tmp_path)
    done = vertex(env, "call", "send_sms", "--sandbox", "--json", json.dumps(SEND))
    assert done.returncode == 0, done.stderr
    body = history(env)
    assert [r["kind"] for r in body["records"]] == ["sandbox"]
    assert body["last_24h"]["real"]["messages"] == 0
    assert body["last_24h"]["sandbox"]["messages"] == 1
    assert "send_sms [sandbox]" in vertex(env, "history").stdout


@pytest.mark.slow
def test_sigkill_mid_send_leaves_pending_which_blocks_a_resend(
    server: Server, emulator: Emulator, env: dict[str, str]
) -> None:
    """Killed outright mid-send: the record stays pending, history --pending shows it, and the
    host's repeat of the same call (after restarting us) is refused instead of sent again."""
    server.initialize()
    emulator.inject(Fault(method="POST", path="/sms", delay=2.0))
    server.send(rpc(1, "tools/call", {"name": "send_sms", "arguments": SEND}))
    _wait_for_post(emulator)
    server.proc.kill()
    server.proc.wait(timeout=10)
    (record,) = history(env)["records"]
    assert record["outcome"] == "pending"
    assert "VertexSMS dashboard" in record["next_step"]
    again = vertex(env, "call", "send_sms", "--json", json.dumps(SEND))
    error = json.loads(again.stdout)["error"]
    assert (error["code"], error["earlier_outcome"]) == ("DUPLICATE_SEND", "pending")
    assert len(emulator.journal_for("POST", "/sms")) == 1
