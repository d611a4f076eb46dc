"""One ordered log, shared by processes: what the product did and what the test saw, in order.

A JSON object a line, each with a dense sequence number (``seq``, from 1) and the writer's pid.
``watched_keyring.WatchedKeyring`` writes each keyring use into it (in the product's process), a
recording forward proxy each request (``first_call.recording_proxy``) and the test its marks
(``mark("tools/list answered")``), so "before the answer" and "at the first call" are read off
one sequence, not off a clock.  Writes take an exclusive lock (``<log>.lock``), so the numbers are
in the order the writes happened.  Kept apart from the keyring backend on purpose: importing a
keyring backend class into the test process would make keyring offer it to every other test.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

WATCH_FILE = "TEST_KEYRING_WATCH"  # the variable naming the log for the product's processes


class Watch:
    """The ordered log at ``path`` (one JSON object a line, ``seq`` from 1)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, kind: str, **fields: Any) -> int:
        """Append one event of ``kind`` (with ``fields``, no secret); returns its sequence number."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq = len(self.events()) + 1
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"seq": seq, "kind": kind, "pid": os.getpid(), **fields}) + "\n")
            return seq

    def mark(self, what: str) -> int:
        """The test's own mark: what it saw happen, at this point of the sequence."""
        return self.note("mark", what=what)

    def events(
        self, kind: str | None = None, *, after: int = 0, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The events so far, of ``kind`` when given, with ``after < seq < before``."""
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
        return [
            row
            for row in rows
            if (kind is None or row["kind"] == kind)
            and row["seq"] > after
            and (before is None or row["seq"] < before)
        ]
