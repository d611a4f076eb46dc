"""The send journal's stores side by side, for the tests every store must pass: in memory, the
SQLite file, and a real PostgreSQL server (that leg is slow: the server is a child process, the
``postgres`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vertex_stdio.vertexsms.journal.sqlite import SqliteStore
from vertex_stdio.vertexsms.journal.store import JournalStore, MemoryStore

STORES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
"""A store fixture's params: ``@pytest.fixture(params=STORES)``, then ``journal_store``."""


@contextmanager
def journal_store(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> Iterator[JournalStore]:
    """The store ``request.param`` names, empty (PostgreSQL: a fresh database whose name starts
    with ``database``), closed on exit."""
    made: JournalStore
    if request.param == "postgresql":
        from vertex_stdio.vertexsms.journal.pgstore import PgStore

        server = request.getfixturevalue("postgres")
        made = PgStore(server.fresh_database(database), password=server.password)
    else:
        made = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "j.sqlite3")
    try:
        yield made
    finally:
        made.close()
