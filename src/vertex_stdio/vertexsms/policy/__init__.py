"""The spending policy: which sends may go, which need a person's yes. May import vertexsms.settings, outgoing, dialcodes and core.

``load`` reads ``policy.toml`` (or ``VERTEXSMS_POLICY``) into a ``Policy`` (rules.py, pure but for
the one file read); ``judge.py`` holds the checks (pure), ``zones.py`` the recipient's local time.
A file that cannot be used never stops the server: ``Policy.problem`` says what is wrong, and
every billable call is refused with it (money fails closed) while free tools work.
"""

from __future__ import annotations

from vertex_stdio.vertexsms.policy.judge import (
    Breach,
    Usage,
    counted_breach,
    needs_confirmation,
    opted_out,
    static_breach,
)
from vertex_stdio.vertexsms.policy.rules import Policy, Setting, default_path, load, parse

__all__ = [
    "Breach",
    "Policy",
    "Setting",
    "Usage",
    "counted_breach",
    "default_path",
    "load",
    "needs_confirmation",
    "opted_out",
    "parse",
    "static_breach",
]
