"""Tests of file permissions whichever user runs them: as root, root's override is dropped.

Root reads and writes any file (``CAP_DAC_OVERRIDE``), so a test that a mode-0 file is refused
cannot pass as root, and used to be skipped there: on a CI that runs as root the check was
gone.  ``overrides_file_modes`` probes what this process can do; a test skipped on it has a
twin that calls ``rerun_without_override``, which runs the test again in a child pytest whose
root has those capabilities removed from its bounding set (``setpriv``), so file modes bind it
as they bind anyone else, and asserts it ran and passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DROPPED = "-dac_override,-dac_read_search,-fowner"


def overrides_file_modes() -> bool:
    """True when this process reads a file whose mode is 0 (root, or a user with the capability)."""
    if os.name != "posix":
        return False
    with tempfile.TemporaryDirectory() as directory:
        probe = Path(directory) / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            probe.read_text()
        except PermissionError:
            return False
        finally:
            probe.chmod(0o600)
    return True


def rerun_without_override(nodeid: str) -> None:
    """Run test ``nodeid`` (``path::name``) as this user minus the file-mode override; assert it
    passed rather than skipped."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to run this permission check as root")
    done = subprocess.run(
        [
            setpriv,
            f"--bounding-set={DROPPED}",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            nodeid,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "1 passed" in done.stdout, report
    assert "skipped" not in done.stdout, report
