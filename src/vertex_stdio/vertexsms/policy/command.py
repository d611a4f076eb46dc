"""``vertex-stdio policy``: the effective spending policy, each value with where it comes from,
and the file checked (exit 1, naming the file, line and problem, when it cannot be used)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK
from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.policy.rules import ENV, RULES, Policy, default_path, load

_OFF = "off"


def run_policy(env: Mapping[str, str], *, as_json: bool, out: TextIO, err: TextIO) -> int:
    """Print the policy ``env`` selects; ``EXIT_FIXABLE`` when its file has a problem."""
    policy = load(env)
    if as_json:
        body: dict[str, Any] = {
            "file": str(policy.path or default_path()),
            "file_exists": policy.path is not None,
            "problem": policy.problem,
            "rules": {
                rule: {"value": _jsonable(rule, setting.value), "source": setting.source}
                for rule, setting in policy.values.items()
            },
        }
        out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(_table(policy))
    if policy.problem is not None:
        err.write(
            f"vertex-stdio: the spending policy cannot be used: {policy.problem}\n"
            "Until it is fixed, every call that costs money is refused (free tools work).\n"
        )
        return EXIT_FIXABLE
    return EXIT_OK


def _table(policy: Policy) -> str:
    where = policy.path or default_path()
    lines = [
        f"Spending policy: {where}" + ("" if policy.path else " (no file: defaults)"),
        f"(choose another file with {ENV}=path; a VERTEXSMS_* limit that is set overrides the file)",
        "",
    ]
    width = max(len(rule) for rule in RULES)
    for rule, setting in policy.values.items():
        lines.append(f"  {rule:<{width}}  {_shown(_jsonable(rule, setting.value)):<24}  {setting.source}")
    if policy.confirm_off:
        lines.append("\n  VERTEXSMS_CONFIRM_SENDS=0: no send asks for a person's yes.")
    lines.append("")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    if value is None:
        return _OFF
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(value) + "]"
    return str(value)


def _jsonable(rule: str, value: Any) -> Any:
    if rule == "journal_url" and isinstance(value, str):
        return redacted_url(value)  # a URL from the variable may hold a password
    return list(value) if isinstance(value, tuple) else value
