"""Issue 10: private state from the first run, tightened when loose, never through a planted symlink.

Real files, real processes (``python -m vertex_stdio`` and writers racing on the opt-in file store).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vertex_stdio.core import logs
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.privatefs import UnsafePath, private_dir, write_private
from vertex_stdio.oauth.storage.secrets import FileSecrets, SecretsUnavailable
from vertex_stdio.oauth.storage.state import FileLock, StateFile

SRC = Path(__file__).resolve().parents[2] / "src"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def product(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
@posix_only
def test_first_run_creates_the_state_directory_0700(tmp_path: Path) -> None:
    """The very first command (its log handler runs first) leaves every new directory 0700."""
    home = tmp_path / "home"
    home.mkdir()
    done = product(home, "status")
    assert done.returncode == 1, done.stderr  # status runs fully and exits 1: not signed in
    state = home / ".local" / "state" / "vertex-stdio"
    assert state.is_dir()
    for directory in (
        home / ".local",
        home / ".local" / "state",
        state,
        *[p for p in state.rglob("*") if p.is_dir()],
    ):
        assert mode(directory) == 0o700, directory
    for file in (p for p in state.rglob("*") if p.is_file()):
        assert mode(file) == 0o600, file


@pytest.mark.slow
@posix_only
def test_loose_modes_are_tightened(tmp_path: Path) -> None:
    """A 0755 state directory and a 0644 state file found on disk are made 0700 / 0600."""
    home = tmp_path / "home"
    state = home / ".local" / "state" / "vertex-stdio"
    state.mkdir(parents=True)
    os.chmod(state, 0o755)  # noqa: S103 - the loose mode under test
    (state / "auth.json").write_text(json.dumps({"version": 1}))
    os.chmod(state / "auth.json", 0o644)
    done = product(home, "status")
    assert done.returncode == 1, done.stderr  # status runs fully and exits 1: not signed in
    assert mode(state) == 0o700
    assert mode(state / "auth.json") == 0o600
    assert "tightened" in done.stderr


@posix_only
@pytest.mark.anyio
async def test_planted_symlinks_are_refused_and_never_written_through(tmp_path: Path) -> None:
    """State file, secret file, lock and log file planted as symlinks: clear errors, the target untouched."""
    decoy = tmp_path / "decoy.txt"
    decoy.write_text("precious")
    os.chmod(decoy, 0o644)
    state = private_dir(tmp_path / "state")
    for name in ("auth.json", "secrets.json", "state.lock", "vertex-stdio.log"):
        (state / name).symlink_to(decoy)

    with pytest.raises(AuthRequired, match="symbolic link"):
        StateFile(state / "auth.json").read()
    with pytest.raises(AuthRequired, match="symbolic link"):
        StateFile(state / "auth.json").write({"x": 1})
    with pytest.raises(SecretsUnavailable, match="symbolic link"):
        FileSecrets(state / "secrets.json").set("account", "RT-CANARY-0001")
    with pytest.raises(AuthRequired, match="symbolic link"):
        FileLock(state / "state.lock", 1.0).try_acquire()
    os.environ["VERTEXSMS_LOG_DIR"] = str(state)
    try:
        assert logs.configure("INFO") is None  # stderr only, with a warning naming the link
    finally:
        del os.environ["VERTEXSMS_LOG_DIR"]
        logs.configure("WARNING", to_file=False)
    assert decoy.read_text() == "precious"
    assert mode(decoy) == 0o644
    linked_dir = tmp_path / "linked"
    linked_dir.symlink_to(state)
    with pytest.raises(UnsafePath):
        private_dir(linked_dir)


def test_killed_writer_leftovers_are_removed_and_logout_leaves_no_copy(tmp_path: Path) -> None:
    """A temp copy left by a SIGKILLed writer is gone after the next write; delete leaves no secret."""
    store = FileSecrets(tmp_path / "secrets.json")
    store.set("a", "RT-CANARY-first")
    leftover = tmp_path / ".secrets.json.tmp-99999-deadbeef"
    leftover.write_text(json.dumps({"a": "RT-CANARY-stale"}))
    store.set("a", "RT-CANARY-second")
    assert not leftover.exists()
    leftover.write_text(json.dumps({"a": "RT-CANARY-stale"}))
    store.delete("a")
    remaining = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert remaining == []


_WRITER = """
import sys
from pathlib import Path
from vertex_stdio.oauth.storage.secrets import FileSecrets
store = FileSecrets(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    store.set(f"{sys.argv[2]}-{i}", f"secret-{sys.argv[2]}-{i}")
"""


@pytest.mark.slow
def test_processes_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    """4 processes each save 25 entries into one file store at once: all 100 are there."""
    path = tmp_path / "secrets.json"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"p{n}", "25"], env=env) for n in range(4)
    ]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    data = json.loads(path.read_text())
    assert len(data) == 100
    assert not list(tmp_path.glob(".secrets.json.tmp-*"))


def test_private_write_leaves_no_temp_on_failure(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A write that fails midway (here: unencodable text) removes its temp file."""
    with caplog.at_level(logging.INFO), pytest.raises(UnicodeEncodeError):
        write_private(tmp_path / "x.json", "\udc80")
    assert list(tmp_path.iterdir()) == []


@posix_only
def test_a_shared_directory_is_never_tightened(tmp_path: Path) -> None:
    """A sticky, world-writable directory (like /tmp) named as the log directory keeps its mode."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # noqa: S103 - the shared mode under test
    assert private_dir(shared) == shared
    assert mode(shared) == 0o1777
