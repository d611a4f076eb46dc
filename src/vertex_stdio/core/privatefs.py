"""Private files: 0700 directories and 0600 files, never followed through a symlink.

Every file the product keeps for one person (state, secrets, locks, logs) goes through here.
Directories are created 0700 from the first run, each missing parent included, and tightened
when found looser; files are opened with ``O_NOFOLLOW`` and created 0600 (tightened likewise).
A planted symlink is refused with ``UnsafePath``, whose message names the path and what to do.
Writes are atomic (a temp file beside the target, then ``os.replace``); a writer that was killed
leaves a temp file, which the next write (or ``sweep_temps``) removes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_POSIX = os.name == "posix"
TEMP_MARK = ".tmp-"


class UnsafePath(OSError):
    """A private path is a symlink (or not a directory/file as expected): refused."""


def _refuse(path: Path, what: str) -> UnsafePath:
    return UnsafePath(
        f"{path} is {what}, so vertex-stdio refused to use it (it never follows links for its private "
        "files). Remove it and try again."
    )


def private_dir(path: Path) -> Path:
    """``path`` as a 0700 directory: created with missing parents (each 0700), tightened, never a link."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, "a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(path, "not a directory")
    # Only our own directories are tightened: never a shared one such as /tmp (sticky, or not ours).
    ours = _POSIX and info.st_uid == os.geteuid() and not info.st_mode & stat.S_ISVTX
    if ours and stat.S_IMODE(info.st_mode) & 0o077:
        log.warning("%s was open to others (mode %o); tightened to 700", path, stat.S_IMODE(info.st_mode))
        os.chmod(path, 0o700)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` of a file in a private directory: 0600, never through a symlink, tightened."""
    private_dir(path.parent)
    try:
        fd = os.open(path, flags | NOFOLLOW | CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) or (os.path.islink(path) and exc.errno != errno.ENOENT):
            raise _refuse(path, "a symbolic link") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refuse(path, "not a regular file")
    if _POSIX and stat.S_IMODE(info.st_mode) & 0o077:
        log.warning("%s was readable by others (mode %o); tightened to 600", path, stat.S_IMODE(info.st_mode))
        os.fchmod(fd, 0o600)
    return fd


def read_private(path: Path) -> str | None:
    """The text of ``path``, or None when it does not exist; ``UnsafePath`` for a symlink."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, encoding="utf-8") as handle:
        return handle.read()


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` (0600, in a 0700 directory); old temp copies go."""
    private_dir(path.parent)
    if os.path.islink(path):
        raise _refuse(path, "a symbolic link")
    sweep_temps(path)
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sweep_temps(path: Path) -> int:
    """Remove temp copies of ``path`` left by killed writers; callers hold the file's lock."""
    removed = 0
    for leftover in path.parent.glob(f".{path.name}{TEMP_MARK}*"):
        leftover.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d temporary copies of %s left by an interrupted write", removed, path.name)
    return removed


def remove_private(path: Path) -> None:
    """Delete ``path`` and every temp copy of it (e.g. at logout)."""
    sweep_temps(path)
    path.unlink(missing_ok=True)
