"""The real client programs our printed commands are for (tests/support/client_clis, pinned by npm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent / "client_clis"
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "ENETUNREACH")


def installed(command: str) -> Path:
    """``node_modules/.bin/<command>``, running ``npm ci`` first if needed; skips only when npm
    is missing or its registry is unreachable."""
    exe = FOLDER / "node_modules" / ".bin" / command
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    done = subprocess.run(
        [npm, "ci", "--prefix", str(FOLDER), "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 and any(code in done.stderr for code in NETWORK_ERRORS):
        pytest.skip(f"npm registry unreachable: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    assert exe.exists(), f"npm ci did not provide {command}"
    return exe
