"""Shared fixtures: the anyio backend, an isolated home for every test, the emulator upstream."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from postgres import Postgres

    from vertex_stdio.vertexsms.sandbox import Emulator


# The fast tier (`./scripts/check --fast`, `-m "not slow"`) is every test not marked `slow`, and it
# must need no child process (so no Node either). This makes the mark true rather than hoped for:
# an unmarked test that starts a process fails, naming the mark it lacks.
_SPAWNS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.fork", "os.forkpty", "os.exec", "os.spawn", "os.system"}
)
_unmarked: list[str] = []  # the running test's id while it is not marked slow


def _no_child_processes(event: str, args: tuple[object, ...]) -> None:
    if _unmarked and event in _SPAWNS:
        raise RuntimeError(
            f"{_unmarked[0]} starts a child process ({event}); mark it @pytest.mark.slow "
            "(the fast tier runs only tests that need none)"
        )


sys.addaudithook(_no_child_processes)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Guard the whole test (its fixtures' set-up and tear-down too) unless it is marked slow."""
    if item.get_closest_marker("slow") is None:
        _unmarked.append(item.nodeid)
    try:
        return (yield)
    finally:
        _unmarked.clear()


def _processes_made() -> str:
    # multiprocessing numbers every Process it makes; repr reads the counter without advancing it.
    return repr(multiprocessing.process._process_counter)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _no_multiprocessing(request: pytest.FixtureRequest) -> Iterator[None]:
    """The audit events miss ``multiprocessing``'s spawn start method; its process counter does not."""
    before = _processes_made()
    yield
    if request.node.get_closest_marker("slow") is None and _processes_made() != before:
        pytest.fail(f"{request.node.nodeid} made a multiprocessing child; mark it @pytest.mark.slow")


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


def _postgres_or_skip() -> Postgres:
    """A fresh cluster; skipped when this machine has no PostgreSQL, but failed in CI (it installs one)."""
    from postgres import Postgres, unavailable

    missing = unavailable()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against a real PostgreSQL: {missing} (.ci/run installs it)")
        pytest.skip(missing)
    return Postgres.create()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL server for the session (tests using it are slow: it is a child process).

    Share it with ``postgres.fresh_database()`` per test; a test that stops it starts it again."""
    server = _postgres_or_skip()
    try:
        yield server
    finally:
        # A session fixture ends in the teardown of the session's last test, which may be one
        # that is not slow: stopping the server (pg_ctl) is this fixture's child, not that test's.
        held = list(_unmarked)
        _unmarked.clear()
        try:
            server.close()
        finally:
            _unmarked.extend(held)


@pytest.fixture
def postgres_private() -> Iterator[Postgres]:
    """A cluster of the test's own (to stop, start or break without disturbing others)."""
    server = _postgres_or_skip()
    try:
        yield server
    finally:
        server.close()
