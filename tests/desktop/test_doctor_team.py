"""`doctor` with a team's PostgreSQL journal: the connection (the password, in the URL or in
PGPASSWORD, never shown), the schema version and the clock skew against the server; clear advice
when the database cannot be reached.  A real server, and the real process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from postgres import Postgres, free_port

from bridge import process_env, vertex
from vertex_stdio.desktop.team_check import check_team_journal
from vertex_stdio.vertexsms.journal.pgschema import SCHEMA_VERSION

pytestmark = pytest.mark.slow


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, str]], str]:
    done = vertex(env, "doctor", "--json", timeout=90)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    return done.returncode, checks, done.stdout + done.stderr


def test_a_reachable_team_journal_is_checked_without_showing_its_password(
    postgres: Postgres, tmp_path: Path
) -> None:
    database = postgres.fresh_database("doctor").rsplit("/", 1)[1]
    env = process_env(
        tmp_path, VERTEXSMS_SANDBOX="1", VERTEXSMS_JOURNAL_URL=postgres.url_with_password(database)
    )
    code, checks, said = doctor(env)
    assert code == 0, said
    assert checks["team journal"]["status"] == "ok"
    assert checks["team journal"]["detail"].startswith(postgres.url_for(database))
    assert "no journal tables yet" in checks["team journal schema"]["detail"]  # doctor created nothing
    assert checks["clock vs database"]["status"] == "ok"
    assert "send journal" not in checks  # the SQLite file is not the journal here
    assert postgres.password not in said
    optout = vertex(env, "optout", "add", "+37060000009", timeout=90)
    assert optout.returncode == 0
    _, checks, said = doctor(env)
    assert checks["team journal schema"]["detail"] == f"version {SCHEMA_VERSION} (current)"
    assert postgres.password not in said


def test_an_unreachable_database_fails_with_advice(postgres: Postgres, tmp_path: Path) -> None:
    url = f"postgresql://vertex:{postgres.password}@127.0.0.1:{free_port()}/journal"  # nothing listens there
    env = process_env(tmp_path, VERTEXSMS_SANDBOX="1", VERTEXSMS_JOURNAL_URL=url)
    code, checks, said = doctor(env)
    assert code == 1
    team = checks["team journal"]
    assert team["status"] == "fail"
    assert "could not be reached" in team["detail"]
    assert "billable tools refuse" in team["detail"]
    assert "running and reachable" in team["fix"]
    keyring = f"-m keyring set 'vertex-stdio journal' postgresql://vertex@127.0.0.1:{url.rsplit(':', 1)[1]}"
    assert keyring in team["fix"]
    assert checks["clock vs database"]["status"] == "skip"
    assert postgres.password not in said


def test_a_wrong_password_fails_naming_the_places_it_is_read_from(postgres: Postgres, tmp_path: Path) -> None:
    env = process_env(
        tmp_path,
        VERTEXSMS_SANDBOX="1",
        PGPASSWORD="wrong-" + postgres.password,
        VERTEXSMS_JOURNAL_URL=postgres.url,
    )
    code, checks, said = doctor(env)
    assert code == 1
    team = checks["team journal"]
    assert "refused this machine (connection failed" in team["detail"]
    assert "password authentication failed" in team["detail"]
    assert "PGPASSWORD in the environment" in team["fix"]
    assert "~/.pgpass" in team["fix"]
    assert "a wrong password there is corrected there" in team["fix"]
    assert "running and reachable" not in team["fix"]  # it was reached: it said no
    assert postgres.password not in said


@pytest.mark.parametrize(
    ("offset", "status", "phrase"),
    [
        (0.0, "ok", "the database server's"),
        (-60.0, "warn", "ahead of"),
        (60.0, "warn", "behind"),
        (400.0, "fail", "refused"),
    ],
)
def test_the_clock_against_the_server(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch, offset: float, status: str, phrase: str
) -> None:
    """``offset``: how far this machine's clock is set behind the server's (the server's is right)."""
    monkeypatch.setenv("PGPASSWORD", postgres.password)  # libpq reads it from the environment
    checks = check_team_journal(postgres.url, clock=lambda: time.time() - offset)
    clock = {c.name: c for c in checks}["clock vs database"]
    assert (clock.status, phrase in clock.detail) == (status, True), clock
