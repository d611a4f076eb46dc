"""``python -m vertex_stdio.vertexsms.sandbox``: run the emulator in the foreground.

The first line on stdout is the base URL (``http://127.0.0.1:PORT``); the hosted MCP
server is at that URL plus ``/mcp``.  Stops on SIGTERM or SIGINT, and on end of stdin
with ``--stop-on-stdin-eof`` (so a parent process can tie the emulator's life to a pipe).
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, SANDBOX_TOKEN, Emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vertex_stdio.vertexsms.sandbox", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: any free port)")
    parser.add_argument(
        "--token",
        action="append",
        help=f"an accepted token with all scopes (repeatable; default: {SANDBOX_TOKEN})",
    )
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="also stop when stdin reaches end of file"
    )
    parser.add_argument("--log-level", default="WARNING", help="log level for stderr (default: WARNING)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until a stop signal; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    done = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tokens = {token: ALL_SCOPES for token in (args.token or [SANDBOX_TOKEN])}
    with Emulator(tokens=tokens, port=args.port) as emulator:
        print(emulator.api_url, flush=True)  # noqa: T201 - the documented first line for parent processes
        if args.stop_on_stdin_eof:
            threading.Thread(target=_wait_for_eof, args=(done,), daemon=True).start()
        while not done.wait(0.5):
            pass
    return 0


def _wait_for_eof(done: threading.Event) -> None:
    while os.read(sys.stdin.fileno(), 65536):
        pass
    done.set()


if __name__ == "__main__":
    sys.exit(main())
