"""The import contracts in pyproject.toml can fail: forbidden imports planted in a copy of the tree break them.

``./scripts/check`` runs ``lint-imports`` on the real tree; here the same command runs on a temporary
copy, once as it is (every contract kept) and once with one forbidden import planted per contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs lint-imports as a child process

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# file to plant in (under src/vertex_stdio) -> the forbidden import, and the contract it breaks
PLANTS = {
    "core/planted_core.py": ("from vertex_stdio.vertexsms import settings", "app > desktop"),
    "bridge/planted_bridge.py": ("from vertex_stdio.vertexsms import smsparts", "never import each other"),
    "oauth/planted_oauth.py": ("import mcp.types", "oauth never imports the MCP SDK"),
    "oauth/protocol/planted_protocol.py": ("from vertex_stdio.oauth.io import http", "inside oauth"),
    "vertexsms/sandbox/planted_sandbox.py": (
        "from vertex_stdio.vertexsms.api import rest",
        "inside vertexsms",
    ),
    # the contract names its modules: the plant replaces one (in the copy)
    "bridge/earlycall.py": ("import mcp", "connect's first calls never import the MCP SDK"),
    "mcpio/asks.py": ("import mcp", "the early loop and its requests to the local client"),
    "vertexsms/tools/numbercheck.py": ("import pydantic", "serve's first hosted calls never import pydantic"),
}


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_copy_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_planted_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    package = tree / "src" / "vertex_stdio"
    for name, (line, _) in PLANTS.items():
        (package / name).write_text(f'"""A forbidden import, planted."""\n\n{line}\n', encoding="utf-8")
    result = _lint(tree)
    out = " ".join(result.stdout.split())  # the report wraps long lines
    assert result.returncode == 1, out + result.stderr
    assert f"Contracts: 0 kept, {len(PLANTS)} broken." in out, out
    for name, (_, contract) in PLANTS.items():
        module = "vertex_stdio." + name.removesuffix(".py").replace("/", ".")
        assert f"{module} -> " in out, (module, out)  # each plant named, with its line
        assert contract in out.split("Contracts: 0 kept")[0], (contract, out)  # listed as broken
