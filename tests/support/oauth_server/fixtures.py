"""Shared pytest fixtures and helpers for the sign-in tests (import them into a test module)."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from oauth_server.harness import AuthServer, StaticServer, auth_server, static_server

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def as_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("as")) as server:
        yield server


@pytest.fixture
def resource() -> Iterator[StaticServer]:
    with static_server() as server:
        yield server


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BROWSER = the scripted browser (consent by default); returns its callback log."""
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "browser.py"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "browser.log"
    monkeypatch.setenv("BROWSER", str(script))
    monkeypatch.setenv("TEST_BROWSER_LOG", str(log))
    monkeypatch.setenv("TEST_BROWSER_MODE", "consent")
    monkeypatch.setenv("PYTHONPATH", str(HERE.parent.parent / "src"))
    return log
