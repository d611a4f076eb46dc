"""The audit chain through the real commands: sends made by the server, the journal edited by
hand, `history --verify` names the record; `history --export` writes no text."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from bridge import emulator_env, ok
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = pytest.mark.slow

TEXT = "Your table for 4 is ready at 19:30"


def vertex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.anyio
async def test_a_journal_edited_by_hand_is_named_by_history_verify(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = emulator_env(
        tmp_path,
        emulator,
    )
    params = StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=env)
    async with Client(params, mode="legacy") as client:
        for i in range(3):
            ok(await client.call_tool("send_sms", {"to": f"+3706000000{i}", "from": "ACME", "message": TEXT}))
    held = vertex(env, "history", "--verify")
    assert held.returncode == 0, held.stdout + held.stderr
    assert "3 records" in held.stdout
    exported = vertex(env, "history", "--export", "jsonl", "--since", "1d")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["outcome"] for r in rows] == ["sent"] * 3
    assert all(r["digest"] and r["preview"].startswith("Your table for •") for r in rows)
    assert "ready at" not in exported.stdout.replace(rows[0]["preview"], "")
    assert TEXT not in vertex(env, "history", "--export", "csv").stdout
    (journal,) = (tmp_path / "state").rglob("journal.sqlite3")
    db = sqlite3.connect(journal)
    db.execute("UPDATE calls SET price_eur = 0 WHERE id = 2")
    db.commit()
    db.close()
    edited = vertex(env, "history", "--verify")
    assert edited.returncode == 1
    assert "record #2 was changed" in edited.stdout
