"""``connect URL`` with the lean front: its cached offer answers ``initialize`` and ``tools/list``
while the SDK and ``app.connect`` load on a worker thread (``bridge/leanoffer.py``); the first
calls may be answered before the SDK is loaded (``app/earlyconnect.py``).

With no cached offer (or no kept answers for it), at a terminal, on Windows or with
``VERTEX_STDIO_LEAN=0``, ``connect`` starts as before.  A mistake on the command line is still
reported (exit 2) -- after the front answered, when it answered.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from vertex_stdio.app.serving import front_until_stopped
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.mcpio.lean import Manifest

log = logging.getLogger("vertex_stdio")


def lean_connect(settings: Settings, args: argparse.Namespace) -> int:
    """Serve ``connect`` (lean when its cache allows); the exit code."""
    manifest = _manifest(args)
    if manifest is None:
        from vertex_stdio.app.connect import command_for

        return command_for("connect", settings, args)
    from vertex_stdio.app.earlyconnect import Loader, declared, early_link, run_early_connect
    from vertex_stdio.mcpio import runner
    from vertex_stdio.mcpio.pipes import claimed_stdin, claimed_stdout

    with claimed_stdin() as in_fd, claimed_stdout() as out_fd:
        loader = Loader()
        early = early_link(settings, args, manifest)
        if early is None:
            loader.start()  # else once idle, or when a first call is left to the steady state
        handover = front_until_stopped(in_fd, out_fd, manifest, loader.wake_fd, loader.start)
        log.debug("the lean front answered %d requests", handover.answered)
        opened = handover.ended is None and not loader.ready
        if early is not None and opened and early.declares(*declared(handover, manifest)):
            answered = run_early_connect(handover, early, loader)
            log.debug("the early path answered %d calls before the SDK was wanted", answered)
        if handover.ended is not None and handover.ended != "eof":
            return runner.leave(runner.Ended(handover.ended), "vertex-stdio connect")
        loader.join()
        if handover.ended == "eof":
            return runner.leave(runner.Ended(), "vertex-stdio connect")
        from vertex_stdio.app.connect import command_for

        captured = early.captured if early is not None else None
        return command_for("connect", settings, args, handover=handover, captured=captured)


def _manifest(args: argparse.Namespace) -> Manifest | None:
    if sys.stdin.isatty() or sys.platform == "win32" or os.environ.get("VERTEX_STDIO_LEAN") == "0":
        return None
    from vertex_stdio.bridge.leanoffer import cached_manifest
    from vertex_stdio.bridge.selection import ToolFilter
    from vertex_stdio.bridge.servers import resolve
    from vertex_stdio.core.errors import ConfigError

    try:
        remote = resolve(args.url, args.name)
    except ConfigError:
        return None  # reported as before, by command_for
    chosen = ToolFilter.of(args.tools, args.exclude_tools)
    return cached_manifest(remote.state_dir(), chosen, int(args.max_cache_mib * 1_048_576))
