"""Run ``python -m vertex_stdio ARGS`` and copy its stdout, byte for byte, to $TEE_STDOUT_FILE too.

Used by the stdio tests: the SDK client talks to this wrapper as if it were the server, and the
test then checks that every byte the real server wrote to stdout was JSON-RPC.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading


def _pump_stdin(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    try:
        for chunk in iter(lambda: os.read(0, 65536), b""):
            child.stdin.write(chunk)
            child.stdin.flush()
    except (BrokenPipeError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()


def main() -> int:
    child = subprocess.Popen(
        [sys.executable, "-m", "vertex_stdio", *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    threading.Thread(target=_pump_stdin, args=(child,), daemon=True).start()
    assert child.stdout is not None
    with open(os.environ["TEE_STDOUT_FILE"], "ab") as copy:
        for chunk in iter(lambda: os.read(child.stdout.fileno(), 65536), b""):  # type: ignore[union-attr]
            os.write(1, chunk)
            copy.write(chunk)
            copy.flush()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
