"""Shared fixtures: the anyio backend and an isolated home for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs (state, logs, config) at a temporary home; drop VERTEXSMS_* settings."""
    home = tmp_path / "home"
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.setenv("VERTEXSMS_LOG_DIR", str(home / "logs"))
    for key in list(os.environ):
        if key.startswith("VERTEXSMS_") and key != "VERTEXSMS_LOG_DIR":
            monkeypatch.delenv(key)
    return home
