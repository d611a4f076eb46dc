"""Other bridges to measure beside ours: mcp-remote 0.15.1 (npm), installed on first use.

``mcp_remote()`` installs the pinned version with ``npm install`` into ``benchmarks/.peers/``
(ignored by git and by the bundle) once, and returns a ``Peer``: how to start it in front of a
remote Streamable HTTP MCP server.  When Node/npm is missing or the npm registry cannot be
reached, it returns the reason instead, and the benchmark prints that column as skipped.

    peer = mcp_remote()
    if isinstance(peer, str):
        print("mcp-remote skipped:", peer)
    else:
        argv = peer.argv("http://127.0.0.1:PORT/mcp", headers={"Authorization": "Bearer x"})
        env = peer.env(home)  # where mcp-remote keeps its state (never the user's ~/.mcp-auth)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / ".peers"
MCP_REMOTE_VERSION = "0.15.1"
INSTALL_TIMEOUT = 300.0


@dataclass(frozen=True)
class Peer:
    """An installed Node bridge: ``node SCRIPT URL [flags]``."""

    name: str
    node: str
    script: Path
    marker: str  # a string in its command line, to find its pid among our children

    def argv(self, url: str, headers: Mapping[str, str] | None = None) -> list[str]:
        """mcp-remote bridging ``url`` over Streamable HTTP only, quiet, with fixed headers."""
        args = [self.node, str(self.script), url, "--transport", "http-only", "--silent"]
        for name, value in (headers or {}).items():
            args += ["--header", f"{name}:{value}"]  # no space: the form its README gives for Windows
        return args

    def env(self, home: Path) -> dict[str, str]:
        """An environment whose state directory is under ``home`` (never the user's own)."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "MCP_REMOTE_CONFIG_DIR": str(home / "mcp-remote"),
        }


def mcp_remote(version: str = MCP_REMOTE_VERSION) -> Peer | str:
    """mcp-remote ``version``, installed under ``benchmarks/.peers/`` if needed; or why not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are not installed"
    prefix = PEERS_DIR / f"mcp-remote-{version}"
    package = prefix / "node_modules" / "mcp-remote"
    script = package / "dist" / "proxy.js"
    if not script.is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        command = [npm, "install", "--prefix", str(prefix), f"mcp-remote@{version}"]
        command += ["--no-audit", "--no-fund", "--no-save", "--loglevel=error"]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"npm install mcp-remote@{version} failed ({type(exc).__name__}); is the npm registry reachable?"
        if done.returncode != 0 or not script.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            return f"npm install mcp-remote@{version} failed: {last}"
    return Peer(f"mcp-remote {version}", node, script, marker=str(script))
