"""Assert a secret is absent from texts: not whole, and no 8-character piece of it either."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def pieces(secret: str, size: int = 8) -> set[str]:
    """Every ``size``-character slice of ``secret`` (the whole when it is shorter)."""
    if len(secret) <= size:
        return {secret}
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def assert_no_secret(secret: str, *texts: str) -> None:
    """Fail naming which text holds ``secret`` or an 8-character piece of it (never the piece)."""
    for number, text in enumerate(texts):
        leaked = [p for p in pieces(secret) if p in text]
        assert not leaked, f"text #{number} holds the secret or {len(leaked)} 8-character piece(s) of it"


def files_under(*roots: Path) -> Iterable[tuple[Path, str]]:
    """Every file below ``roots`` with its text (bytes decoded with replacement)."""
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path, path.read_bytes().decode("utf-8", errors="replace")


def assert_no_secret_in_files(secret: str, *roots: Path, skip: Iterable[Path] = ()) -> int:
    """``assert_no_secret`` over every file below ``roots`` except ``skip``; how many were read."""
    skipped = {p.resolve() for p in skip}
    count = 0
    for path, text in files_under(*roots):
        if path.resolve() in skipped:
            continue
        leaked = [p for p in pieces(secret) if p in text]
        assert not leaked, f"{path} holds the secret or {len(leaked)} 8-character piece(s) of it"
        count += 1
    return count
