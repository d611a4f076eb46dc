"""Shared fixtures: the anyio backend, an isolated home for every test, the emulator upstream."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.sandbox import Emulator


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


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A VertexSMS emulator on loopback, shared by a module's tests (the bridge's upstream)."""
    from vertex_stdio.vertexsms.sandbox import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator(request: pytest.FixtureRequest) -> None:
    """A test that uses the emulator starts with no fault armed and an empty journal."""
    if "emulator" in request.fixturenames:
        emu = request.getfixturevalue("emulator")
        emu.clear_faults()
        emu.clear_journal()
