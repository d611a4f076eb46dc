"""The command line: its commands and their options (the settings' options are in
``setting_options``, whose names this module also exports).

Every setting option mirrors a ``VERTEXSMS_*`` variable and wins over it.  Imports nothing
heavy (no SDK, no HTTP): ``--version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vertex_stdio import __version__
from vertex_stdio.app.setting_options import (
    JOURNAL_SETTINGS,
    SIGNIN_SETTINGS,
    setting_env,
    setting_flags,
    setting_options,
    settings_from,
)

__all__ = [  # the settings' names too: callers import the command line from here
    "SETUP_CLIENTS",
    "build_parser",
    "setting_env",
    "setting_flags",
    "setting_options",
    "settings_from",
]


def _command(sub: Any, name: str, about: str, only: frozenset[str] | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and lists only the settings it reads."""
    parents = [] if only is not None and not only else [setting_options(only)]
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=parents, help=about, description=about[:1].upper() + about[1:] + "."
    )
    return parser


# desktop/clients.py's CLIENTS, spelled out: the parser must not import desktop (start-up cost);
# tests/desktop/test_desktop_setup.py holds the two lists equal.
SETUP_CLIENTS = (
    *("claude-desktop", "claude-code", "cursor", "vscode"),
    *("windsurf", "zed", "cline", "goose", "continue", "lmstudio", "jetbrains"),
    *("codex", "gemini"),
)


def build_parser() -> argparse.ArgumentParser:
    common = setting_options()
    parser = argparse.ArgumentParser(
        prog="vertex-stdio",
        description="VertexSMS for your AI assistant: a local MCP server over stdio.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"vertex-stdio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _command(sub, "serve", "run the stdio MCP server (the default)")
    login = _command(sub, "login", "sign in with your browser now", SIGNIN_SETTINGS)
    login.add_argument("--scope", action="append", default=[], help="a scope to ask for (repeatable)")
    how = login.add_mutually_exclusive_group()
    how.add_argument(
        "--no-browser",
        action="store_true",
        help="print the sign-in link and take the address the browser ends on, pasted back here",
    )
    how.add_argument(
        "--device",
        action="store_true",
        help="sign in with a code entered in a browser on any device (RFC 8628 device grant)",
    )
    how.add_argument(
        "--token",
        nargs="?",
        const=True,
        default=False,
        help="keep a VertexSMS API token instead: pasted at a hidden prompt, or piped in (never "
        "on the command line); checked once, kept in the keyring",
    )
    logout = _command(sub, "logout", "revoke and forget the sign-in", SIGNIN_SETTINGS)
    status = _command(sub, "status", "who is signed in (never prints secrets)", SIGNIN_SETTINGS)
    status.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    call = _command(sub, "call", "call one tool from the terminal")
    call.add_argument("tool", help="tool name, e.g. get_sms_rates")
    call.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="K=V",
        help="an argument; V is parsed as JSON when it can be (repeatable)",
    )
    call.add_argument("--json", dest="json_args", metavar="'{...}'", help="all arguments as one JSON object")
    setup = _command(
        sub,
        "setup",
        "add vertex-stdio to a desktop client's config (settings given here go into the entry)",
        frozenset(a.dest for a in setting_options()._actions if a.dest not in ("help", "api_token")),
    )
    setup.add_argument(
        "--api-token",
        dest="setup_token",
        nargs="?",
        const=True,
        default=None,
        metavar="TOKEN",
        help="use an API token: kept in the keyring (pasted at a hidden prompt or piped in when no "
        "TOKEN is given), never written into the config file; VS Code asks for it itself",
    )
    setup.add_argument(
        "client",
        nargs="?",
        choices=SETUP_CLIENTS,
        help="the client (codex also covers the ChatGPT desktop app); leave it out to list the "
        "clients installed here, with the command for each",
    )
    setup.add_argument("--write", action="store_true", help="merge the entry into the client's config file")
    setup.add_argument(
        "--config", type=Path, metavar="PATH", help="the config file (default: the client's own)"
    )
    setup.add_argument(
        "--name", help="the entry's name (default: vertexsms; vertexsms-sandbox with --sandbox)"
    )
    setup.add_argument(
        "--connect",
        metavar="URL",
        help="an entry for `vertex-stdio connect URL` instead (a remote MCP server)",
    )
    setup.add_argument("--client-auth", choices=CLIENT_AUTH, help="with --connect: connect's --client-auth")
    history = _command(
        sub,
        "history",
        "the local send journal: outcomes, message ids, totals against the limits",
        JOURNAL_SETTINGS,
    )
    history.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    history.add_argument(
        "--since", metavar="WHEN", help="only records since WHEN: 24h, 7d, 30m or a date (2026-12-01)"
    )
    history.add_argument(
        "--pending", action="store_true", help="only calls whose outcome is unknown, with how to check each"
    )
    _policy_commands(sub)
    doctor = _command(sub, "doctor", "check the installation, sign-in and network")
    doctor.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    _connect_options(sub, (login, logout, status, doctor))
    return parser


CLIENT_AUTH = {"basic": "client_secret_basic", "post": "client_secret_post"}
"""``--client-auth`` choices and the RFC 8414 method each names."""


def _mib(text: str) -> float:
    """A size in MiB for connect's caps: a number from 0.0625 (64 KiB) to 1024."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MiB, got {text!r}") from None
    if not 0.0625 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"must be from 0.0625 to 1024 (MiB), got {text}")
    return value


Option = tuple[str | None, str, dict[str, Any]]
"""(the --help section, None for the options; the flag; ``add_argument``'s keywords)."""


def _option(flag: str, about: str, section: str | None = None, **keywords: Any) -> Option:
    return section, flag, {"help": about, **keywords}


_SETTINGS = "settings (each overrides the VERTEXSMS_* variable of the same name)"
_UNATTENDED = "unattended sign-in (no browser; the client signs in as itself)"
_HIDDEN = {"default": argparse.SUPPRESS}  # a setting not given keeps the variable's value
CONNECT_OPTIONS: tuple[Option, ...] = (
    _option("--name", "a short name for it (default: its host), for --server NAME"),
    _option("--client-id", "a pre-registered OAuth client id", dest="remote_client_id"),
    _option(
        "--max-answer-mib",
        "the largest answer read from the server, and the largest list served (default 4)",
        type=_mib,
        default=4.0,
        metavar="N",
    ),
    _option(
        "--max-cache-mib",
        "the most kept of what the server offers, all lists together (default 8)",
        type=_mib,
        default=8.0,
        metavar="N",
    ),
    # connect's own settings (``bridge.settings``), as options of ``connect`` itself
    _option(
        "--allow-file-store",
        "without a usable keyring, keep the sign-in in a 0600 file",
        _SETTINGS,
        action="store_true",
        **_HIDDEN,
    ),
    _option("--callback-port", "loopback redirect port", _SETTINGS, type=int, **_HIDDEN),
    _option("--signin-timeout", "seconds a call waits for a sign-in", _SETTINGS, type=float, **_HIDDEN),
    _option("--log-level", "DEBUG, INFO, WARNING or ERROR", _SETTINGS, **_HIDDEN),
    _option(
        "--client-secret-env",
        "the environment variable holding the pre-registered client's secret (never the secret itself)",
        metavar="VAR",
    ),
    _option(
        "--header",
        "send header NAME with the value of environment variable VAR (an API key, say); repeatable",
        action="append",
        metavar="NAME=VAR",
    ),
    _option(
        "--tools",
        "serve only the tools matching these globs (comma-separated)",
        action="append",
        metavar="GLOBS",
    ),
    _option(
        "--exclude-tools", "do not serve the tools matching these globs", action="append", metavar="GLOBS"
    ),
    _option(
        "--client-credentials",
        "OAuth client_credentials with --client-id and --client-secret-env, or --private-key",
        _UNATTENDED,
        action="store_true",
    ),
    _option(
        "--private-key",
        "the client's PEM private key, for private_key_jwt (RFC 7523)",
        _UNATTENDED,
        metavar="FILE",
    ),
    _option(
        "--idp-token-endpoint",
        "cross-app access: your identity provider's token endpoint",
        _UNATTENDED,
        metavar="URL",
    ),
    _option(
        "--idp-client-id",
        "cross-app access: this app's id at the identity provider",
        _UNATTENDED,
        metavar="ID",
    ),
    _option(
        "--idp-id-token-env",
        "cross-app access: the environment variable holding your ID token",
        _UNATTENDED,
        metavar="VAR",
    ),
    _option(
        "--client-metadata-url",
        "an https URL of this client's metadata document, used as client id where the server supports it",
        metavar="URL",
    ),
)
"""``connect``'s options, in the order its --help lists them (no token option, by design)."""


def _connect_options(sub: Any, per_server: Sequence[argparse.ArgumentParser]) -> None:
    """``connect URL`` (``CONNECT_OPTIONS``) and ``--server`` on the sign-in commands."""
    connect = _command(sub, "connect", "serve any OAuth-protected remote MCP server over stdio", frozenset())
    connect.add_argument("url", help="the remote MCP server's URL, e.g. https://mcp.vocci.ai/mcp")
    sections: dict[str, Any] = {}
    for section, flag, keywords in CONNECT_OPTIONS:
        if section is not None and section not in sections:
            sections[section] = connect.add_argument_group(section)
        (connect if section is None else sections[section]).add_argument(flag, **keywords)
    for parser in (connect, *per_server):
        parser.add_argument(
            "--client-auth",
            choices=CLIENT_AUTH,
            help="how the pre-registered client's secret is sent: basic (client_secret_basic) or post "
            "(client_secret_post); default: as the server's metadata prefers",
        )
    for parser in per_server:
        parser.add_argument(
            "--server", metavar="URL|NAME", help="a remote server served by `connect` (default: VertexSMS)"
        )
    per_server[0].add_argument(
        "--ask-client-secret",
        nargs="?",  # a value typed after it is taken here and refused unechoed, never a usage error showing it
        const=True,
        default=False,
        help="with --server and --client-id: ask for the client's secret (hidden, or one line on stdin) "
        "and keep it in the keyring for connect",
    )


def _policy_commands(sub: Any) -> None:
    """``policy`` (the spending policy in effect) and ``optout`` (numbers never to text)."""
    policy = sub.add_parser(
        "policy", help="the spending policy in effect, each value with its source; checks the file"
    )
    policy.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    optout = sub.add_parser("optout", help="numbers that asked not to be texted: add, remove or list them")
    optout.add_argument("action", choices=("add", "remove", "list"), help="what to do")
    optout.add_argument(
        "numbers", nargs="*", metavar="NUMBER", help="international numbers, e.g. +37060000001"
    )
    optout.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output (list)")
    history = sub.choices["history"]
    history.add_argument(
        "--verify",
        action="store_true",
        help="check the journal's audit chain; names the first record edited by hand",
    )
    history.add_argument(
        "--export",
        choices=("csv", "jsonl"),
        help="write the records (digest and masked preview, never the text)",
    )
