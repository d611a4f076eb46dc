"""The policy file: its rules, their defaults, and where each effective value comes from.

    confirm_above_eur = 0.50          # a send costing more needs a person's yes (0: every send)
    allowed_countries = ["LT", "LV"]

Each rule is off unless set, except the named defaults.  The daily limits may be written here
too; a ``VERTEXSMS_*`` variable that is set overrides the file.  ``parse`` never raises: a file
that cannot be used yields a ``Policy`` whose ``problem`` names the file, the line and what is
wrong, and the checks refuse every billable call with it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

POLICY_FILE = "policy.toml"
ENV = "VERTEXSMS_POLICY"
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_PREFIX_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from (``file.toml line 3``, a variable, ``default``)."""

    value: Any
    source: str


# rule -> (default, the variable that overrides it, or None)
RULES: dict[str, tuple[Any, str | None]] = {
    "confirm_above_eur": (0.50, None),
    "confirm_new_recipients": (True, None),
    "allowed_recipients": (None, None),
    "allowed_countries": (None, None),
    "max_per_recipient_per_day": (5, None),
    "max_per_recipient_per_hour": (3, None),
    "max_messages_per_month": (None, None),
    "max_eur_per_month": (None, None),
    "quiet_hours": (None, None),
    "max_messages_per_day": (100, "VERTEXSMS_MAX_MESSAGES_PER_DAY"),
    "max_recipients_per_day": (50, "VERTEXSMS_MAX_RECIPIENTS_PER_DAY"),
    "max_eur_per_day": (None, "VERTEXSMS_MAX_EUR_PER_DAY"),
    "max_parts": (10, "VERTEXSMS_MAX_PARTS"),
    # The team journal's database (issue 23); unset: the SQLite file on this machine.
    "journal_url": (None, "VERTEXSMS_JOURNAL_URL"),
}
JOURNAL_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class Policy:
    """The effective rules (``values``: rule -> ``Setting``), the file read, and its ``problem``."""

    values: Mapping[str, Setting]
    path: Path | None = None
    problem: str | None = None
    confirm_off: bool = False

    def get(self, rule: str) -> Any:
        return self.values[rule].value

    def where(self, rule: str) -> str:
        """Where a person changes ``rule``: its line in the file, its variable, or the file to add it to."""
        found = self.values[rule].source
        if found != "default":
            return found
        target = self.path or default_path()
        return f"add `{rule} = ...` to {target}"


def default_path() -> Path:
    """``policy.toml`` in the platform config directory."""
    import platformdirs

    return platformdirs.user_config_path("vertex-stdio", appauthor=False) / POLICY_FILE


def load(env: Mapping[str, str]) -> Policy:
    """The policy of ``VERTEXSMS_POLICY`` (or the default file; none there: the defaults)."""
    named = (env.get(ENV) or "").strip()
    path = Path(named).expanduser() if named else default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if named:
            return parse(None, path, env, problem=f"{path}: the policy file {ENV} names does not exist")
        text = None
    except (OSError, UnicodeDecodeError) as exc:
        return parse(None, path, env, problem=f"{path}: cannot be read ({exc})")
    return parse(text, path if text is not None else None, env)


def parse(
    text: str | None, path: Path | None, env: Mapping[str, str], *, problem: str | None = None
) -> Policy:
    """The ``Policy`` of the file ``text`` (None: no file) with the variables of ``env`` over it."""
    values = {rule: Setting(default, "default") for rule, (default, _) in RULES.items()}
    if text is not None and problem is None:
        problem = _read_file(text, path or Path(POLICY_FILE), values)
    for rule, (_, variable) in RULES.items():
        if variable and (env.get(variable) or "").strip():
            values[rule] = Setting(_env_value(rule, env[variable].strip()), variable)
    confirm = (env.get("VERTEXSMS_CONFIRM_SENDS") or "").strip().lower()
    return Policy(values, path, problem, confirm_off=confirm in ("0", "false", "no", "off"))


def _read_file(text: str, path: Path, values: dict[str, Setting]) -> str | None:
    """Fill ``values`` from the file; the first problem found (file, line, what), or None."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return f"{path}: {exc}"
    for rule, raw in data.items():
        line = _line_of(text, rule)
        at = f"{path} line {line}" if line else str(path)
        if rule not in RULES:
            known = ", ".join(sorted(RULES))
            return f"{at}: unknown rule {rule!r} (the rules are {known})"
        try:
            values[rule] = Setting(_checked(rule, raw), at)
        except ValueError as exc:
            return f"{at}: {rule} {exc}"
    return None


def _line_of(text: str, rule: str) -> int | None:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(rule)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


def _env_value(rule: str, text: str) -> Any:
    if rule == "journal_url":
        return text  # checked where it is opened (journal/where.py), so the variable never crashes
    # The variables were validated by Settings already; 0 turns a limit off.
    number = float(text) if rule == "max_eur_per_day" else int(text)
    return number or None if rule == "max_eur_per_day" else number


def _checked(rule: str, raw: Any) -> Any:
    """``raw`` as ``rule`` takes it; ``ValueError`` saying what it must be."""
    if rule == "confirm_new_recipients":
        if not isinstance(raw, bool):
            raise ValueError(f"must be true or false, got {raw!r}")
        return raw
    if rule in ("confirm_above_eur", "max_eur_per_month", "max_eur_per_day"):
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1_000_000:
            raise ValueError(f"must be an amount in EUR between 0 and 1000000, got {raw!r}")
        return float(raw) if rule == "confirm_above_eur" else (float(raw) or None)
    if rule == "allowed_recipients":
        return tuple(_prefix(item) for item in _strings(raw))
    if rule == "allowed_countries":
        codes = tuple(item.strip().upper() for item in _strings(raw))
        for code in codes:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f'takes ISO 3166-1 alpha-2 codes such as "LT", got {code!r}')
        return codes
    if rule == "journal_url":
        return _journal_url(raw)
    if rule == "quiet_hours":
        if not isinstance(raw, str) or not _QUIET.match(raw.replace(" ", "")):
            raise ValueError(f'must be "HH:MM-HH:MM" in 24-hour time, e.g. "21:00-08:00", got {raw!r}')
        return raw.replace(" ", "")
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 1_000_000:
        raise ValueError(f"must be a whole number between 0 and 1000000 (0 turns it off), got {raw!r}")
    return raw


def _journal_url(raw: Any) -> str:
    """A PostgreSQL URL with no password in it: a policy file is shared and read by people."""
    if not isinstance(raw, str) or urlsplit(raw.strip()).scheme not in JOURNAL_SCHEMES:
        raise ValueError(
            f'must be a PostgreSQL URL, e.g. "postgresql://vertex@db.example.com/journal", got {raw!r}'
        )
    parts = urlsplit(raw.strip())
    if ":" in parts.netloc.rpartition("@")[0] or "password=" in parts.query.lower():
        raise ValueError(
            "must not hold a password; give it in PGPASSWORD, ~/.pgpass, a libpq service file or the keyring "
            "(see README, Teams)"
        )
    return raw.strip()


def _strings(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError(f'must be a list of strings, e.g. ["+3706"], got {raw!r}')
    return raw


def _prefix(raw: str) -> str:
    """An allowed number or prefix in E.164 (``+3706``), read as the guard reads a number."""
    text = _PREFIX_SEPARATORS.sub("", raw)
    digits = text[1:] if text.startswith("+") else text[2:] if text.startswith("00") else None
    if digits is None or not digits.isascii() or not digits.isdigit() or not 1 <= len(digits) <= 15:
        raise ValueError(f'takes international numbers or prefixes such as "+3706", got {raw!r}')
    if digits.startswith("0"):
        raise ValueError(f"entry {raw!r} has no calling code after its international prefix")
    return "+" + digits


__all__ = ["RULES", "Policy", "Setting", "default_path", "load", "parse"]
