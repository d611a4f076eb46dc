"""``vertex-stdio optout add|remove|list NUMBER…``: the local list of numbers never to text.

It lives in the journal's database, so every process (every client's server, ``call``; with a
team journal, every machine) reads the same list at each send, inside the same transaction as
the duplicate guard.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE, InvalidInput
from vertex_stdio.vertexsms.journal.reading import Place, place_of
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.journal.where import remedy
from vertex_stdio.vertexsms.outgoing import destination


def run_optout(
    journal: Path | Place, action: str, numbers: list[str], *, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """Add, remove or list opt-outs in the journal (where the policy puts it, or a SQLite file);
    numbers normalised to E.164."""
    place = place_of(journal)
    try:
        wanted = ["+" + destination(raw) for raw in numbers]
    except InvalidInput as exc:
        err.write(f"vertex-stdio optout: {exc.message}\n")
        return EXIT_USAGE
    if action in ("add", "remove") and not wanted:
        err.write(f"vertex-stdio optout {action}: give at least one number, e.g. +37060000001\n")
        return EXIT_USAGE
    try:
        with place.opened(create=True) as store:
            assert store is not None
            if action != "list":
                store.set_optout(wanted, action == "add", time.time())
            listed = store.optouts()
    except JournalStoreError as exc:
        err.write(f"vertex-stdio optout: {exc}. To fix: {remedy(place.where, exc)}.\n")
        return EXIT_FIXABLE
    if action == "add":
        err.write(f"On the opt-out list (send_sms refuses them): {', '.join(wanted)}\n")
    elif action == "remove":
        err.write(f"Off the opt-out list: {', '.join(wanted)}\n")
    if as_json:
        out.write(json.dumps({"optout": [{"number": n, "added": t} for n, t in listed]}) + "\n")
    elif action == "list":
        for number, added in listed:
            out.write(f"{number}  (added {datetime.fromtimestamp(added).astimezone():%Y-%m-%d %H:%M})\n")
        if not listed:
            err.write("The opt-out list is empty.\n")
    return EXIT_OK
