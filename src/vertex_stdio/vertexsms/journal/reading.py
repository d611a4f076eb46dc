"""The journal as the commands (``history``, ``optout``) and ``doctor`` open it: wherever the
policy puts it (a team's PostgreSQL database, else this machine's SQLite file), through the one
store interface, named the way it is safe to print (a URL without its password)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vertex_stdio.vertexsms.journal.store import JournalStore
from vertex_stdio.vertexsms.journal.where import describe, journal_url, open_store
from vertex_stdio.vertexsms.policy import Policy


@dataclass(frozen=True)
class Place:
    """Where the journal is: ``where`` (printable), ``team`` (PostgreSQL) and the SQLite ``path``."""

    policy: Policy
    path: Path

    @property
    def team(self) -> bool:
        return journal_url(self.policy) is not None

    @property
    def where(self) -> str:
        return describe(self.policy, self.path)

    @property
    def made(self) -> bool:
        """Whether there is a journal to read: always for a team's, once the file exists for ours."""
        return self.team or self.path.exists()

    @contextlib.contextmanager
    def opened(self, *, create: bool = False) -> Iterator[JournalStore | None]:
        """The open store, closed after (None when the file is not made yet and ``create`` is
        False: reading must not create it).  Raises ``JournalStoreError`` when it cannot be opened."""
        if not (create or self.made):
            yield None
            return
        store = open_store(self.policy, path=self.path)
        try:
            yield store
        finally:
            store.close()

    @classmethod
    def file(cls, path: Path) -> Place:
        """This machine's SQLite file at ``path``, whatever a policy says (tests, old callers)."""
        from vertex_stdio.vertexsms.policy import parse

        return cls(parse(None, None, {}), path)


def place_of(journal: Path | Place) -> Place:
    return journal if isinstance(journal, Place) else Place.file(journal)
