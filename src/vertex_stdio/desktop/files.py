"""Config files for ``setup``: read as text, back up beside themselves, replace atomically."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class SetupError(Exception):
    """The config file cannot be merged safely; the message says why and what to do."""


@dataclass(frozen=True)
class MergeResult:
    """What a merge did to the config file."""

    path: Path
    changed: bool
    created: bool
    backup: Path | None


def read_text(path: Path) -> str | None:
    """The file's text (a UTF-8 BOM dropped), or None when it does not exist; else ``SetupError``."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise SetupError(f"{path} is not UTF-8 text ({exc}); it was left untouched.") from exc
    except OSError as exc:
        raise SetupError(f"cannot read {path} ({exc.strerror}); check its permissions.") from exc


def backup_file(path: Path) -> Path:
    """Copy ``path`` to ``<name>.<timestamp>.bak`` beside it (never overwriting an older backup)."""
    saved = backup_name(path)
    shutil.copy2(path, saved)
    return saved


def backup_name(path: Path) -> Path:
    """``<name>.<timestamp>.bak`` beside ``path``, a name no file has yet."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    return backup


def atomic_write(path: Path, text: str, *, private: bool) -> None:
    """Replace ``path`` with ``text`` in one step; the temporary file never outlives a failure."""
    try:
        mode = 0o600 if private else stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600  # a new file: only its owner needs to read it
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if sys.platform != "win32":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
