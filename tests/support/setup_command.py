"""``vertex-stdio setup`` as a real process in a temporary home, for the setup tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path


def setup_env(home: Path, path_prefix: Path | None = None, *, drop: Collection[str] = ()) -> dict[str, str]:
    """This environment for a run in ``home``: no ``VERTEXSMS_*`` setting of the outer run (its
    log folder kept), no Claude Code config folder of its own, no Claude Code update check or
    traffic; ``path_prefix`` first on ``PATH`` (a client's bin folder); ``drop``: more to leave out."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("VERTEXSMS_") or k == "VERTEXSMS_LOG_DIR") and k not in drop
    }
    env |= {"HOME": str(home), "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    env.pop("CLAUDE_CONFIG_DIR", None)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return env


def run_setup(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio setup ARGS`` with ``env`` and ``stdin`` (never the terminal), in ``cwd`` (by
    default its ``HOME``)."""
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "setup", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or env["HOME"],
        env=env,
        check=False,
    )


def setup_in(
    home: Path, *args: str, cwd: Path | None = None, path_prefix: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio setup ARGS`` in ``home`` with ``setup_env``."""
    return run_setup(setup_env(home, path_prefix), *args, cwd=cwd)
