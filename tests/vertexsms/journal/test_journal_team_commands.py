"""The journal commands against a team's PostgreSQL journal, through the real process: two
"laptops" (separate HOMEs; one names the database in VERTEXSMS_JOURNAL_URL with the password in
it, the other in its policy file with PGPASSWORD) see one journal in `history`, `--verify`,
`--export` and `optout`; every record names its machine and OS user; no output holds the
password; with the database down, the commands say so and what to do."""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from postgres import Postgres

from bridge import ok, process_env
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator

pytestmark = pytest.mark.slow

TEXT = "Team dinner moved to 19:30"
USER = pwd.getpwuid(os.getuid()).pw_name


def vertex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=90
    )


def laptops(postgres: Postgres, tmp_path: Path, emulator: Emulator) -> tuple[dict[str, str], dict[str, str]]:
    """A: the URL (password inside) in the variable. B: the URL in its policy file, PGPASSWORD."""
    url = postgres.fresh_database("cmds")
    database = url.rsplit("/", 1)[1]
    upstream = {"VERTEXSMS_API_URL": emulator.api_url, "VERTEXSMS_MCP_URL": emulator.mcp_url}
    a = process_env(
        tmp_path / "a",
        VERTEXSMS_API_TOKEN=SANDBOX_TOKEN,
        VERTEXSMS_JOURNAL_URL=postgres.url_with_password(database),
        **upstream,
    )
    policy = tmp_path / "b-policy.toml"
    policy.write_text(f'journal_url = "{url}"\n', encoding="utf-8")
    b = process_env(
        tmp_path / "b",
        VERTEXSMS_API_TOKEN=SANDBOX_TOKEN,
        VERTEXSMS_POLICY=str(policy),
        PGPASSWORD=postgres.password,
    )
    b.update(upstream)
    return a, b


@pytest.mark.anyio
async def test_two_laptops_read_one_journal(postgres: Postgres, emulator: Emulator, tmp_path: Path) -> None:
    a, b = laptops(postgres, tmp_path, emulator)
    params = StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=a)
    async with Client(params, mode="legacy") as client:
        for i in range(2):
            ok(await client.call_tool("send_sms", {"to": f"+3706000000{i}", "from": "ACME", "message": TEXT}))
    outputs: list[str] = []

    def run(env: dict[str, str], *args: str, code: int = 0) -> str:
        done = vertex(env, *args)
        outputs.extend((done.stdout, done.stderr))
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout

    listed = json.loads(run(b, "history", "--json"))  # B sees what A sent
    assert [(r["recipient"], r["outcome"]) for r in listed["records"]] == [
        ("+37060000001", "sent"),
        ("+37060000000", "sent"),
    ]
    assert {(r["machine"], r["os_user"]) for r in listed["records"]} == {(socket.gethostname(), USER)}
    assert listed["journal"] == postgres.url_for(listed["journal"].rsplit("/", 1)[1])
    table = run(b, "history")
    assert f"{USER}@{socket.gethostname()}" in table
    assert "2 of 100 messages" in table  # the day's totals come from the shared journal
    assert "2 records" in run(b, "history", "--verify")
    assert "2 records" in run(a, "history", "--verify")
    rows = [json.loads(line) for line in run(a, "history", "--export", "jsonl").splitlines()]
    assert [(r["machine"], r["os_user"], r["outcome"]) for r in rows] == [
        (socket.gethostname(), USER, "sent")
    ] * 2
    assert all(r["chain"] for r in rows)
    exported = list(csv.DictReader(io.StringIO(run(b, "history", "--export", "csv", "--since", "1d"))))
    assert [r["machine"] for r in exported] == [socket.gethostname()] * 2
    assert TEXT not in "".join(outputs)

    run(b, "optout", "add", "+37060000009")  # B's opt-out holds for A
    assert "+37060000009" in run(a, "optout", "list")
    async with Client(params, mode="legacy") as client:
        refused = await client.call_tool("send_sms", {"to": "+37060000009", "from": "ACME", "message": "hi"})
    assert refused.is_error
    policy = json.loads(run(a, "policy", "--json"))
    assert policy["rules"]["journal_url"]["source"] == "VERTEXSMS_JOURNAL_URL"
    assert "127.0.0.1" in run(b, "policy")
    assert postgres.password not in "".join(outputs)
    for log in (tmp_path / "a" / "logs").rglob("*"):
        assert not log.is_file() or postgres.password not in log.read_text(errors="replace")


def test_commands_say_the_database_is_down_and_what_to_do(postgres_private: Postgres, tmp_path: Path) -> None:
    env = process_env(tmp_path, **postgres_private.env())
    assert vertex(env, "optout", "add", "+37060000009").returncode == 0  # creates the schema
    postgres_private.stop()
    for args in (("history",), ("history", "--verify"), ("history", "--export", "csv"), ("optout", "list")):
        done = vertex(env, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert f"127.0.0.1:{postgres_private.port}" in done.stderr
        assert "team database is up and reachable" in done.stderr
        assert postgres_private.password not in done.stdout + done.stderr
    postgres_private.start()
    assert "+37060000009" in vertex(env, "optout", "list").stdout
