"""Every module in src stays within STYLE's cap (rule 6: a module ≲ 400 lines); the check names each one over it."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CAP = 400


def over_the_cap(root: Path, cap: int = CAP) -> list[str]:
    """Each ``.py`` file under ``root`` longer than ``cap`` lines, as ``path (N lines)``, sorted."""
    over = []
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > cap:
            over.append(f"{path.relative_to(root).as_posix()} ({lines} lines)")
    return over


def test_every_module_in_src_is_within_the_cap() -> None:
    over = over_the_cap(SRC)
    assert not over, (
        f"over the {CAP}-line cap (STYLE.md rule 6; split out something coherent): {', '.join(over)}"
    )


def test_a_module_over_the_cap_is_named_and_one_at_the_cap_is_not(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "at_cap.py").write_text("x = 1\n" * CAP, encoding="utf-8")
    (package / "over.py").write_text("x = 1\n" * (CAP + 1), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x\n" * (CAP + 5), encoding="utf-8")
    assert over_the_cap(tmp_path) == [f"pkg/over.py ({CAP + 1} lines)"]
