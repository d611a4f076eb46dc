"""The settings as command-line options: each ``VERTEXSMS_*`` setting's option (which wins over
the variable), the settings each command reads, the settings the options give, and the options
and variables that hand them on to a child process.  Imports nothing heavy (``--help`` stays
instant); ``arguments`` builds the commands on these.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from vertex_stdio.vertexsms.settings import Settings

# The settings each command reads (its --help lists only these); None: every setting.
SIGNIN_SETTINGS = frozenset(
    {"api_token", "api_url", "mcp_url", "scopes", "client_id", "callback_port", "allow_file_store"}
    | {"signin_timeout", "log_level"}
)
JOURNAL_SETTINGS = frozenset(
    {"max_messages_per_day", "max_recipients_per_day", "max_eur_per_day", "log_level"}
)


def setting_options(only: frozenset[str] | None = None) -> argparse.ArgumentParser:
    """Options that mirror the VERTEXSMS_* settings (those in ``only``); they win over the environment."""
    p = argparse.ArgumentParser(add_help=False)
    group = p.add_argument_group("settings (each overrides its VERTEXSMS_* variable)")
    s = argparse.SUPPRESS

    def add(flag: str, dest: str, **options: Any) -> None:
        if only is None or dest in only:
            group.add_argument(flag, dest=dest, default=s, **options)

    add(
        "--api-token",
        "api_token",
        help="VertexSMS API token (prefer VERTEXSMS_API_TOKEN: arguments are visible to other users)",
    )
    add("--api-url", "api_url", help="REST API base URL")
    add("--mcp-url", "mcp_url", help="hosted MCP server URL (the OAuth resource)")
    add("--scopes", "scopes", help="space-separated OAuth scopes to ask for")
    add("--client-id", "client_id", help="pre-registered OAuth client id")
    add("--callback-port", "callback_port", type=int, help="loopback redirect port")
    add(
        "--test-mode",
        "test_mode",
        choices=("1", "2"),
        help="every send carries testMode (1 delivered, 2 failed; nothing is sent)",
    )
    add(
        "--sandbox",
        "sandbox",
        action="store_true",
        help="use the built-in VertexSMS emulator (no account, no network)",
    )
    add("--log-level", "log_level", help="DEBUG, INFO, WARNING or ERROR")
    add(
        "--allow-file-store",
        "allow_file_store",
        action="store_true",
        help="without a usable keyring, keep the refresh token in a 0600 file",
    )
    add(
        "--signin-timeout",
        "signin_timeout",
        type=float,
        help="seconds a tool call waits for a browser sign-in",
    )
    _money_options(add)
    return p


def setting_env(args: argparse.Namespace, *, exclude: tuple[str, ...] = ("api_token",)) -> dict[str, str]:
    """The ``VERTEXSMS_*`` variable for each setting option given on this command line.

    Generic over ``setting_options``: option ``--x-y`` (dest ``x_y``) is ``VERTEXSMS_X_Y``, a
    boolean is ``1`` or ``0``, so every setting added there is carried by ``setup`` without more code.
    """
    env: dict[str, str] = {}
    for action in setting_options()._actions:
        if action.dest in exclude or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        # Booleans as the server's settings parser reads them ("1"/"0"), never "True"/"False".
        env[f"VERTEXSMS_{action.dest.upper()}"] = (
            ("1" if value else "0") if isinstance(value, bool) else str(value)
        )
    return env


def setting_flags(args: argparse.Namespace, *, exclude: tuple[str, ...] = ("api_token",)) -> list[str]:
    """The setting options given on this command line, spelled again as options (for a printed
    command that carries them; ``--api-token`` is never repeated)."""
    flags: list[str] = []
    for action in setting_options()._actions:
        if action.dest in exclude or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        if action.nargs == 0:
            flags += [action.option_strings[0]] if value else []
        else:
            text = ("1" if value else "0") if isinstance(value, bool) else str(value)
            flags += [action.option_strings[0], text]
    return flags


def _money_options(add: Callable[..., None]) -> None:
    """The send journal's guard and limits (``0`` disables each)."""
    whole = (
        ("--duplicate-window", "duplicate_window", "minutes an identical send_sms is refused (0: off)"),
        ("--max-parts", "max_parts", "most SMS parts per message (0: no limit)"),
        ("--max-messages-per-day", "max_messages_per_day", "most messages per rolling 24 h (0: no limit)"),
        (
            "--max-recipients-per-day",
            "max_recipients_per_day",
            "most recipients per rolling 24 h (0: no limit)",
        ),
        ("--journal-days", "journal_days", "days the send journal keeps its records"),
    )
    for flag, dest, text in whole:
        add(flag, dest, type=int, metavar="N", help=text)
    add("--max-eur-per-day", "max_eur_per_day", type=float, metavar="EUR", help="most EUR per 24 h")
    add(
        "--confirm-sends",
        "confirm_sends",
        type=lambda v: v.lower() not in ("0", "false", "no", "off"),
        metavar="1|0",
        help="ask the person before each send when the client can (default 1)",
    )


MONEY_SETTINGS = (
    "duplicate_window",
    "max_parts",
    "max_messages_per_day",
    "max_recipients_per_day",
    "max_eur_per_day",
    "confirm_sends",
    "journal_days",
)


def settings_from(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    for name in (
        "api_token",
        "api_url",
        "mcp_url",
        "client_id",
        "callback_port",
        "test_mode",
        "sandbox",
        "log_level",
        "allow_file_store",
        "signin_timeout",
        *MONEY_SETTINGS,
    ):
        if hasattr(args, name):
            overrides[name] = getattr(args, name)
    if hasattr(args, "scopes"):
        overrides["scopes"] = tuple(args.scopes.split())
    return Settings.from_env(os.environ if env is None else env, **overrides)
