"""What every section shares: the plan (how much to measure), the upstream process, the env."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token-0123456789"  # noqa: S105 - a fake token; the stand-in accepts any


@dataclass(frozen=True)
class Plan:
    """How much to measure: the default fits 4 minutes on 2 cores; ``--quick`` (CI) about 3.5, with
    blocks of 50 calls (its hosted section keeps five rounds and blocks of 100: ``side_by_side``)."""

    delay: float
    startup_runs: int
    call_blocks: int
    calls_per_block: int
    bursts: int
    burst_size: int = 200
    refresh_callers: int = 50
    levers: bool = True  # section 6's each-lever-alone bridges (figures only): not in --quick

    @classmethod
    def of(cls, quick: bool, delay: float) -> Plan:
        if quick:
            return cls(delay, startup_runs=3, call_blocks=2, calls_per_block=50, bursts=3, levers=False)
        return cls(delay, startup_runs=7, call_blocks=3, calls_per_block=100, bursts=5)

    def side_by_side(self) -> Plan:
        """The hosted section's plan (against mcp-remote): medians of at least five rounds --
        start-ups, bursts -- and three blocks of 100 sequential calls, ``--quick`` too (issue 22)."""
        return replace(
            self,
            startup_runs=max(self.startup_runs, 5),
            call_blocks=max(self.call_blocks, 3),
            calls_per_block=max(self.calls_per_block, 100),
            bursts=max(self.bursts, 5),
        )


class UpstreamProcess:
    """``upstream.py`` in its own process; ``stats()`` and ``reset()`` talk to it over its stdin."""

    def __init__(self, delay: float) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "upstream.py"), "--delay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{int(self._out.readline())}"

    @property
    def _out(self) -> IO[str]:
        assert self._proc.stdout is not None
        return self._proc.stdout

    def _ask(self, command: str) -> dict[str, int]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        answer: dict[str, int] = json.loads(self._out.readline())
        return answer

    def stats(self) -> dict[str, int]:
        """Connections accepted, open now, most open at once, and requests, since ``reset()``."""
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@dataclass(frozen=True)
class Before:
    """The bridge's code at an earlier commit (``checkout_src``), measured beside today's."""

    name: str
    src: Path


BEFORE_REF = "00f2d72"  # main before issue 13 (the lean path): "today's" figures, measured in the same run


def checkout_src(ref: str, into: Path) -> Path | str:
    """``src/`` of commit ``ref`` of this repository, unpacked under ``into``; or why not."""
    git = shutil.which("git")
    if git is None:
        return "git is not installed"
    try:
        archive = subprocess.run(
            [git, "-C", str(HERE.parent), "archive", ref, "src"], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"git archive {ref} failed ({type(exc).__name__})"
    if archive.returncode != 0:
        return f"git archive {ref} failed: {archive.stderr.decode(errors='replace').strip()[:200]}"
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def bridge_env(home: Path, upstream_url: str, *, token: str | None = TOKEN) -> dict[str, str]:
    """What a desktop client gives the bridge: a pasted token (or none: OAuth) and the URLs."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "VERTEXSMS_LOG_DIR": str(home / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "VERTEXSMS_API_URL": upstream_url,
        "VERTEXSMS_MCP_URL": upstream_url + "/mcp",
    }
    if token is not None:
        env["VERTEXSMS_API_TOKEN"] = token
    return env
