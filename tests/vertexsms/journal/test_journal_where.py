"""Where the journal lives: the variable or the policy file's ``journal_url`` picks PostgreSQL,
unset keeps the SQLite file; a URL is never printed with its password."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.journal import describe, journal_url, open_store
from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.journal.verdicts import unavailable as _unavailable
from vertex_stdio.vertexsms.journal.where import TeamExtraMissing, install_command
from vertex_stdio.vertexsms.policy import parse

SECRET = "s3cr3t-Pass:w@rd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://vertex:s3cr3t@db.example.com:5432/journal",
            "postgresql://vertex@db.example.com:5432/journal",
        ),
        ("postgres://vertex:p%40ss@db/j?sslmode=verify-full", "postgres://vertex@db/j?sslmode=verify-full"),
        (
            "postgresql://db/j?user=v&password=s3cr3t&sslmode=require",
            "postgresql://db/j?user=v&password=[redacted]&sslmode=require",
        ),
        ("postgresql:///journal?host=/run/postgresql", "postgresql:///journal?host=/run/postgresql"),
        ("postgresql://v:a:b@c@h1:5432,h2:5433/j", "postgresql://v@h1:5432,h2:5433/j"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_the_variable_wins_over_the_file_and_unset_keeps_sqlite(tmp_path: Path) -> None:
    """``VERTEXSMS_JOURNAL_URL`` over the policy's ``journal_url``; neither: the SQLite file."""
    in_file = 'journal_url = "postgresql://team@db.example.com/journal"\n'
    assert journal_url(parse(in_file, None, {})) == "postgresql://team@db.example.com/journal"
    url = f"postgresql://me:{SECRET}@127.0.0.1/j"
    chosen = parse(in_file, None, {"VERTEXSMS_JOURNAL_URL": url})
    assert journal_url(chosen) == url
    assert describe(chosen, tmp_path / "j.sqlite3") == "postgresql://me@127.0.0.1/j"
    none = parse(None, None, {"VERTEXSMS_JOURNAL_URL": "  "})
    assert journal_url(none) is None
    store = open_store(none, path=tmp_path / "j.sqlite3")
    try:
        assert isinstance(store, SqliteStore)
        assert store.where == str(tmp_path / "j.sqlite3")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('journal_url = "postgresql://team:hunter2hunter2@db/j"', "must not hold a password"),
        ('journal_url = "postgresql://db/j?password=hunter2hunter2"', "must not hold a password"),
        ('journal_url = "mysql://db/j"', "must be a PostgreSQL URL"),
        ("journal_url = 5", "must be a PostgreSQL URL"),
    ],
)
def test_the_policy_file_takes_no_password_and_only_postgresql(line: str, problem: str) -> None:
    """A policy file is read by people and shared: a password there is refused (the problem
    names the line, never the password), as is anything but a PostgreSQL URL."""
    policy = parse(line + "\n", Path("policy.toml"), {})
    assert policy.problem is not None
    assert problem in policy.problem
    assert "policy.toml line 1" in policy.problem
    assert "hunter2hunter2" not in policy.problem


def test_a_url_that_is_not_postgresql_refuses_without_showing_it(tmp_path: Path) -> None:
    url = f"mysql://me:{SECRET}@db/j"
    with pytest.raises(JournalStoreError) as caught:
        open_store(parse(None, None, {"VERTEXSMS_JOURNAL_URL": url}), path=tmp_path / "j")
    assert "must be a postgresql:// URL" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_without_the_team_extra_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """psycopg missing (its import made to fail, as on an installation without the extra): the
    store is not opened, and the error says how to add the extra to this very installation."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = f"postgresql://me:{SECRET}@127.0.0.1:9/j"
    with pytest.raises(TeamExtraMissing) as caught:
        open_store(parse(None, None, {"VERTEXSMS_JOURNAL_URL": url}), path=tmp_path / "j")
    text = str(caught.value)
    assert install_command() in text
    assert "vertex-stdio[team]" in install_command() or "psycopg[binary]" in install_command()
    assert "postgresql://me@127.0.0.1:9/j" in text
    assert SECRET not in text
    # Here (a uv venv of the checkout) the command names this interpreter.
    assert sys.executable in install_command()


def test_an_unusable_team_journal_says_to_check_the_database() -> None:
    """The billable refusal names the remedy by where the journal is."""
    team = _unavailable(
        "the team journal postgresql://v@db/j could not be written (x)", "postgresql://v@db/j"
    )
    assert "team database is up and reachable" in team.message
    assert team.extra["outcome"] == "not_sent"
    assert "move a damaged file aside" in _unavailable("damaged", "journal.sqlite3").message


def test_a_database_that_cannot_be_reached_is_named_without_its_password() -> None:
    """Nothing listens on the port: opening fails at once with the URL shown without its
    password, and libpq's own words carry no piece of it either."""
    from postgres import free_port

    from vertex_stdio.vertexsms.journal.pgstore import PgStore

    port = free_port()
    with pytest.raises(JournalStoreError) as caught:
        PgStore(f"postgresql://vertex:{SECRET}@127.0.0.1:{port}/journal?connect_timeout=3")
    text = str(caught.value)
    assert f"the team journal postgresql://vertex@127.0.0.1:{port}/journal?connect_timeout=3" in text
    assert "could not be opened" in text
    assert SECRET not in text
    assert "s3cr3t" not in text
