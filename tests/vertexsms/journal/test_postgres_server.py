"""The throwaway PostgreSQL server the team-journal tests run against (tests/support/postgres.py)."""

from __future__ import annotations

import os

import pytest
from postgres import ROLE, Postgres

pytestmark = pytest.mark.slow  # it starts initdb, pg_ctl and the server


def test_select_1_with_the_password_from_pgpassword(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("PGPASSWORD", postgres.password)
    with psycopg.connect(postgres.url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        user, addr, superuser = (
            conn.execute(
                "SELECT current_user, inet_server_addr()::text, current_setting('is_superuser')"
            ).fetchone()
            or ()
        )
    assert (user, superuser) == (ROLE, "off")
    assert addr in ("127.0.0.1/32", "127.0.0.1")
    assert postgres.password not in postgres.url


def test_a_wrong_or_missing_password_is_refused(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    monkeypatch.setenv("PGPASSWORD", "not-" + postgres.password)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.url, connect_timeout=10)
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres.url, connect_timeout=10)


def test_fresh_databases_are_apart_and_owned_by_the_role(postgres: Postgres) -> None:
    import psycopg

    first, second = postgres.fresh_database("smoke"), postgres.fresh_database("smoke")
    assert first != second
    with psycopg.connect(first, password=postgres.password, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE marker (x int)")
    with psycopg.connect(second, password=postgres.password, connect_timeout=10) as conn:
        assert conn.execute("SELECT to_regclass('marker')").fetchone() == (None,)


def test_stopped_then_started_on_the_same_port(postgres_private: Postgres) -> None:
    import psycopg

    server = postgres_private
    server.stop()
    assert not server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, password=server.password, connect_timeout=5)
    server.start()
    assert server.running
    with psycopg.connect(server.url, password=server.password, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_cluster_runs_unprivileged_and_leaves_nothing_behind() -> None:
    from postgres import unavailable

    if unavailable() and not os.environ.get("CI"):
        pytest.skip(unavailable() or "")
    server = Postgres.create()
    root = server.root
    with server:
        owner = (server.data / "PG_VERSION").stat().st_uid
        assert owner != 0  # initdb refuses root: the cluster belongs to an unprivileged user
        if os.geteuid() != 0:
            assert owner == os.geteuid()
    assert not root.exists()
