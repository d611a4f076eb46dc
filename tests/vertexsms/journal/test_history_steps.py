"""The step ``history --pending`` prints for a send with a message id runs as printed, sandbox too."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from bridge import process_env
from vertex_stdio.core.launcher import launcher
from vertex_stdio.vertexsms.journal import Record
from vertex_stdio.vertexsms.journal.history import next_step


def test_a_sandbox_records_step_asks_the_sandbox() -> None:
    """A real send's step asks VertexSMS; a sandbox send's asks the sandbox (only it knows the id)."""
    real = next_step(Record(1, "send_sms", "real", 0.0, "unknown", message_id="123"))
    sandbox = next_step(Record(2, "send_sms", "sandbox", 0.0, "unknown", message_id="sandbox-1000001"))
    assert real == f"{launcher()} call get_sms_status --arg message_id=123"
    assert sandbox == f"{launcher()} call get_sms_status --sandbox --arg message_id=sandbox-1000001"


@pytest.mark.slow
def test_the_sandbox_step_runs_as_printed(tmp_path: Path) -> None:
    """Sent in the sandbox, then its printed step run in a new process: the status is found."""
    env = process_env(tmp_path)
    send = {"to": "+37061234567", "from": "ACME", "message": "hi"}
    sent = subprocess.run(
        [*shlex.split(launcher()), "call", "send_sms", "--sandbox", "--json", json.dumps(send)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    message_id = json.loads(sent.stdout)["message_id"]
    step = next_step(Record(1, "send_sms", "sandbox", 0.0, "unknown", message_id=message_id))
    done = subprocess.run(shlex.split(step), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["message_id"] == message_id
