"""serve runs on uvloop where it is installed, and on asyncio's own loop where it is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import process_env, rpc
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
SESSION = (
    rpc(1, "initialize", INIT)
    + rpc(None, "notifications/initialized")
    + rpc(2, "tools/list")
    + rpc(3, "tools/call", {"name": "get_operator", "arguments": {"operatorId": 1101}})
)


def _serve(env: dict[str, str]) -> tuple[dict[object, dict[str, object]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "serve", "--sandbox"],
        input=SESSION,
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    answers = {m.get("id"): m for m in map(json.loads, done.stdout.splitlines())}
    return answers, done.stderr.decode(errors="replace")


def _served(answers: dict[object, dict[str, object]]) -> bool:
    listed = answers[2]["result"]["tools"]  # type: ignore[index]
    return len(listed) == len(TOOL_NAMES) and answers[3]["result"]["isError"] is False  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not installed on Windows")
def test_serves_on_uvloop_where_installed(tmp_path: Path) -> None:
    """The platform-conditional dependency is installed here, and serve uses it."""
    answers, stderr = _serve(process_env(tmp_path))
    assert _served(answers)
    assert "event loop: uvloop" in stderr


@pytest.mark.slow
def test_serves_without_uvloop(tmp_path: Path) -> None:
    """With uvloop unimportable (as on Windows, or a build that failed), serve runs on asyncio's loop."""
    shadow = tmp_path / "shadow" / "uvloop"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("uvloop is hidden by this test")\n')
    answers, stderr = _serve(process_env(tmp_path, PYTHONPATH=str(shadow.parent)))
    assert _served(answers)
    assert "event loop: asyncio" in stderr
