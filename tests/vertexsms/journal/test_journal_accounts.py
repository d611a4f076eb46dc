"""Two VertexSMS accounts in one team database, each in its own schema (the URL's
``options=-csearch_path=…``): their journals, guards and limits are apart, and they do not wait
for each other's lock, while the machines of one account do.  A real PostgreSQL server and the
real ``vertex-stdio`` (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from postgres import Postgres
from test_journal_team import SEND, error_of, laptop, posts, send

from vertex_stdio.vertexsms.journal import pgschema
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = pytest.mark.slow
WAIT_SECONDS = 60.0


def waiting_for_a_lock(url: str, password: str) -> bool:
    """Whether a session of the database waits for an advisory lock, looked at until one does
    (bounded: False when none did in ``WAIT_SECONDS``)."""
    deadline = time.monotonic() + WAIT_SECONDS
    with psycopg.connect(url, password=password, autocommit=True) as db:
        while time.monotonic() < deadline:
            found = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if found.fetchone() == (1,):
                return True
            time.sleep(0.05)
    return False


def test_two_accounts_in_one_database_are_apart_and_do_not_wait_for_each_other(
    emulator: Emulator, postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.fresh_database("accounts")
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url, password=postgres.password, autocommit=True) as db:  # as the team's admin would
        db.execute("CREATE SCHEMA acme")
        db.execute("CREATE SCHEMA beta")

    def account(schema: str, machine: str, **extra: str) -> dict[str, str]:
        journal = {
            "VERTEXSMS_JOURNAL_URL": f"{url}?options={quote(f'-csearch_path={schema}')}",
            "PGPASSWORD": postgres.password,
        }
        return laptop(tmp_path / f"{schema}-{machine}", emulator, journal, **extra)

    missing = error_of(send(account("gamma", "laptop")))  # a schema nobody created
    assert (missing["outcome"], missing["retryable"]) == ("not_sent", False)
    assert "create the schema the URL names" in missing["message"]
    acme, beta = account("acme", "laptop"), account("beta", "laptop")
    # The same send in each account: each account's guard sees only its own journal.
    for env in (acme, beta):
        done = send(env)
        assert done.returncode == 0, done.stdout + done.stderr
    assert error_of(send(account("acme", "other")))["code"] == "DUPLICATE_SEND"  # one account: one guard
    # acme's journal lock held (as a machine of acme would hold it while checking a send):
    # beta's send goes at once; acme's other machine waits for it, then goes.
    with psycopg.connect(url, password=postgres.password, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (pgschema.lock_key("calls", database, "acme"),))
        done = send(beta, message="beta is not held up by acme's lock")
        assert done.returncode == 0, done.stdout + done.stderr
        waits = json.dumps({**SEND, "message": "acme waits for acme's lock"})
        later = subprocess.Popen(
            [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json", waits],
            env=account("acme", "other"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert waiting_for_a_lock(url, postgres.password)
        finally:
            holder.execute("SELECT pg_advisory_unlock_all()")
            out, err = later.communicate(timeout=90)
    assert later.returncode == 0, out + err
    assert posts(emulator) == 4
    with psycopg.connect(url, password=postgres.password) as db:
        rows = db.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables WHERE table_name = 'calls' GROUP BY 1 ORDER BY 1"
        )
        assert rows.fetchall() == [("acme", 1), ("beta", 1)]
        assert db.execute("SELECT count(*) FROM acme.calls WHERE outcome = 'sent'").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM beta.calls WHERE outcome = 'sent'").fetchone() == (2,)
