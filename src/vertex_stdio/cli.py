"""The composition root: parse the command line, read settings, build everything, run.

Commands other than ``serve`` write their results to stdout (marked ``# stdout-ok``);
``serve`` never does: stdout is the MCP protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vertex_stdio import __version__
from vertex_stdio.config import Settings
from vertex_stdio.credentials import NoTokenProvider, StaticTokenProvider, TokenProvider
from vertex_stdio.errors import EXIT_FIXABLE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ConfigError

if TYPE_CHECKING:
    from vertex_stdio.server import VertexServer

log = logging.getLogger("vertex_stdio")


def _setting_options() -> argparse.ArgumentParser:
    """Options that mirror the VERTEXSMS_* settings; they win over the environment."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (each overrides its VERTEXSMS_* variable)")
    s = argparse.SUPPRESS
    g.add_argument(
        "--api-token",
        dest="api_token",
        default=s,
        help="VertexSMS API token (prefer VERTEXSMS_API_TOKEN: arguments are visible to other users)",
    )
    g.add_argument("--api-url", dest="api_url", default=s, help="REST API base URL")
    g.add_argument("--mcp-url", dest="mcp_url", default=s, help="hosted MCP server URL (the OAuth resource)")
    g.add_argument("--scopes", dest="scopes", default=s, help="space-separated OAuth scopes to ask for")
    g.add_argument("--client-id", dest="client_id", default=s, help="pre-registered OAuth client id")
    g.add_argument(
        "--callback-port", dest="callback_port", type=int, default=s, help="loopback redirect port"
    )
    g.add_argument(
        "--test-mode",
        dest="test_mode",
        choices=("1", "2"),
        default=s,
        help="every send carries testMode (1 delivered, 2 failed; nothing is sent)",
    )
    g.add_argument(
        "--sandbox",
        dest="sandbox",
        action="store_true",
        default=s,
        help="use the built-in VertexSMS emulator (no account, no network)",
    )
    g.add_argument("--log-level", dest="log_level", default=s, help="DEBUG, INFO, WARNING or ERROR")
    g.add_argument(
        "--allow-file-store",
        dest="allow_file_store",
        action="store_true",
        default=s,
        help="without a usable keyring, keep the refresh token in a 0600 file",
    )
    g.add_argument(
        "--signin-timeout",
        dest="signin_timeout",
        type=float,
        default=s,
        help="seconds a tool call waits for a browser sign-in",
    )
    _money_options(g)
    return p


def setting_env(args: argparse.Namespace, *, exclude: tuple[str, ...] = ("api_token",)) -> dict[str, str]:
    """The ``VERTEXSMS_*`` variable for each setting option given on this command line.

    Generic over ``_setting_options``: option ``--x-y`` (dest ``x_y``) is ``VERTEXSMS_X_Y``, a
    switch is ``1``, so every setting added there is carried by ``setup`` without more code.
    """
    env: dict[str, str] = {}
    for action in _setting_options()._actions:
        if action.dest in exclude or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        env[f"VERTEXSMS_{action.dest.upper()}"] = "1" if value is True else str(value)
    return env


def _money_options(g: argparse._ArgumentGroup) -> None:
    """The send journal's guard and limits (``0`` disables each)."""
    s = argparse.SUPPRESS
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
        g.add_argument(flag, dest=dest, type=int, default=s, metavar="N", help=text)
    g.add_argument(
        "--max-eur-per-day",
        dest="max_eur_per_day",
        type=float,
        default=s,
        metavar="EUR",
        help="most EUR per 24 h",
    )
    g.add_argument(
        "--confirm-sends",
        dest="confirm_sends",
        type=lambda v: v.lower() not in ("0", "false", "no", "off"),
        default=s,
        metavar="1|0",
        help="ask the person before each send when the client can (default 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _setting_options()
    parser = argparse.ArgumentParser(
        prog="vertex-stdio",
        description="VertexSMS for your AI assistant: a local MCP server over stdio.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"vertex-stdio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", parents=[common], help="run the stdio MCP server (the default)")
    login = sub.add_parser("login", parents=[common], help="sign in with your browser now")
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
    logout = sub.add_parser("logout", parents=[common], help="revoke and forget the sign-in")
    status = sub.add_parser("status", parents=[common], help="who is signed in (never prints secrets)")
    status.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    call = sub.add_parser("call", parents=[common], help="call one tool from the terminal")
    call.add_argument("tool", help="tool name, e.g. get_sms_rates")
    call.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="K=V",
        help="an argument; V is parsed as JSON when it can be (repeatable)",
    )
    call.add_argument("--json", dest="json_args", metavar="'{...}'", help="all arguments as one JSON object")
    setup = sub.add_parser("setup", parents=[common], help="add vertex-stdio to a desktop client's config")
    setup.add_argument("client", choices=("claude-desktop", "claude-code", "cursor", "vscode"))
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
    history = sub.add_parser(
        "history",
        parents=[common],
        help="the local send journal: outcomes, message ids, totals against the limits",
    )
    history.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    history.add_argument(
        "--since", metavar="WHEN", help="only records since WHEN: 24h, 7d, 30m or a date (2026-12-01)"
    )
    history.add_argument(
        "--pending", action="store_true", help="only calls whose outcome is unknown, with how to check each"
    )
    doctor = sub.add_parser("doctor", parents=[common], help="check the installation, sign-in and network")
    doctor.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    _connect_options(sub, (login, logout, status, doctor))
    return parser


MONEY_SETTINGS = (
    "duplicate_window",
    "max_parts",
    "max_messages_per_day",
    "max_recipients_per_day",
    "max_eur_per_day",
    "confirm_sends",
    "journal_days",
)


def _connect_options(sub: Any, per_server: Sequence[argparse.ArgumentParser]) -> None:
    """``connect URL`` (no token or header options, by design) and ``--server`` on the sign-in commands."""
    connect = sub.add_parser("connect", help="serve any OAuth-protected remote MCP server over stdio")
    connect.add_argument("url", help="the remote MCP server's URL, e.g. https://mcp.vocci.ai/mcp")
    connect.add_argument("--name", help="a short name for it (default: its host), for --server NAME")
    connect.add_argument("--client-id", dest="remote_client_id", help="a pre-registered OAuth client id")
    for parser in per_server:
        parser.add_argument(
            "--server", metavar="URL|NAME", help="a remote server served by `connect` (default: VertexSMS)"
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


def token_provider(settings: Settings) -> TokenProvider:
    """Who gives tokens: a pasted token wins; otherwise browser sign-in (OAuth)."""
    from vertex_stdio.logs import register_secret

    if settings.api_token:
        register_secret(settings.api_token)
        return StaticTokenProvider(settings.api_token)
    try:
        from vertex_stdio.oauth import OAuthTokenProvider
        from vertex_stdio.vertexsms_signin import vertexsms_profile
    except ImportError:
        return NoTokenProvider()
    provider: TokenProvider = OAuthTokenProvider(vertexsms_profile(settings))
    return provider


@contextlib.contextmanager
def upstream_for(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    """Settings and tokens for the real VertexSMS, or for a running sandbox emulator."""
    if not settings.sandbox:
        yield settings, token_provider(settings)
        return
    from vertex_stdio.sandbox import SANDBOX_TOKEN, Emulator

    with Emulator() as emulator:
        log.info("Sandbox: VertexSMS emulator on %s; nothing leaves this machine", emulator.api_url)
        local = replace(settings, api_url=emulator.api_url, mcp_url=emulator.mcp_url, api_token=None)
        yield local, StaticTokenProvider(SANDBOX_TOKEN, source="sandbox")


async def _serve_then_close(server: VertexServer, tokens: TokenProvider, stopped: list[int]) -> None:
    import anyio

    from vertex_stdio.stdio import serve_stdio

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_sigterm, tg.cancel_scope, stopped)
            await serve_stdio(server)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await tokens.aclose()


async def _stop_on_sigterm(scope: Any, stopped: list[int]) -> None:
    """On SIGTERM (or Ctrl-C's SIGINT) stop serving; billable calls in flight finish and are
    recorded first (bounded)."""
    import signal

    import anyio

    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info(
                    "%s: finishing any billable call in flight, then exiting", signal.Signals(signum).name
                )
                stopped.append(signum)
                scope.cancel()
                return
    except NotImplementedError:  # no signal receivers on this platform's loop (Windows)
        return


def _event_loop() -> tuple[str, dict[str, Any]]:
    """uvloop where it is installed (Linux, macOS: less CPU per message), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", {}
    return "uvloop", {"loop_factory": uvloop.new_event_loop}


def serve(settings: Settings, *, config_error: str | None = None) -> int:
    """Serve over stdio until stdin closes; with ``config_error``, every tool call answers it."""
    import signal

    import anyio

    from vertex_stdio.server import build_server

    if sys.stdin.isatty():
        from vertex_stdio.terminal import serve_hint

        serve_hint(sys.stderr)
    upstream = _unconfigured(settings) if config_error else upstream_for(settings)
    with upstream as (effective, tokens):
        server = build_server(effective, tokens, config_error=config_error)
        loop, options = _event_loop()
        log.info(
            "vertex-stdio %s serving over stdio (tokens: %s; event loop: %s)",
            __version__,
            tokens.source,
            loop,
        )
        stopped: list[int] = []
        anyio.run(_serve_then_close, server, tokens, stopped, backend_options=options)
    if stopped:
        # Every call is finished and recorded; only the stdin reader thread is left, blocked in a
        # read() that nothing can interrupt, and the interpreter would wait for it forever.
        interrupted = stopped[0] == signal.SIGINT
        log.info("vertex-stdio exits (%s)", "Ctrl-C" if interrupted else "SIGTERM")
        logging.shutdown()
        os._exit(EXIT_INTERRUPTED if interrupted else EXIT_OK)
    log.info("stdin closed; vertex-stdio exits")
    return EXIT_OK


@contextlib.contextmanager
def _unconfigured(settings: Settings) -> Iterator[tuple[Settings, TokenProvider]]:
    yield settings, NoTokenProvider()


def _serve_misconfigured(problem: str) -> int:
    """A setting from the environment (e.g. the bundle's form) is wrong: serve, and say so on every call.

    Exiting would leave the person with an extension that "failed to start" and no reason.
    """
    from vertex_stdio import logs

    logs.configure("INFO")
    log.error("%s Every tool call will answer this until it is fixed.", problem)
    return serve(Settings(), config_error=problem)


def _environment_is_wrong() -> bool:
    try:
        Settings.from_env(os.environ)
    except ConfigError:
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"vertex-stdio: {exc}", file=sys.stderr)
        if (args.command or "serve") == "serve" and _environment_is_wrong():
            return _serve_misconfigured(str(exc))
        return EXIT_USAGE
    from vertex_stdio import logs

    logs.configure(settings.log_level)
    command = args.command or "serve"
    if command == "connect" or getattr(args, "server", None):
        return _connect_command(command, settings, args)
    if command in ("setup", "doctor"):
        return _desktop_command(command, settings, args)
    if command == "serve":
        return serve(settings)
    if command == "history":
        from vertex_stdio.journal import default_path
        from vertex_stdio.journal.history import run_history

        return run_history(
            settings,
            default_path(),
            as_json=args.as_json,
            since=args.since,
            pending=args.pending,
            out=sys.stdout,
            err=sys.stderr,
        )
    if command == "call":
        from vertex_stdio.terminal import call_tool

        return call_tool(settings, upstream_for, args.tool, args.arg, args.json_args)
    return _auth_command(command, settings, args)


def _desktop_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    if command == "setup":
        from vertex_stdio.desktop.setup import run_setup

        try:
            env, name, server_args = _setup_target(args)
        except ConfigError as exc:
            print(f"vertex-stdio setup: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return run_setup(
            args.client,
            write=args.write,
            config_path=args.config,
            out=sys.stdout,
            err=sys.stderr,
            env=env,
            # only --api-token, never the environment; a connect entry takes no token at all
            api_token=None if server_args else getattr(args, "api_token", None),
            name=name,
            server_args=server_args,
        )
    from vertex_stdio.desktop.doctor import run_doctor

    return run_doctor(settings, as_json=args.as_json, out=sys.stdout)


# The settings that also apply to `connect` (sign-in storage, callback port, timeouts, logs).
_CONNECT_SETTINGS = ("ALLOW_FILE_STORE", "CALLBACK_PORT", "SIGNIN_TIMEOUT", "LOG_LEVEL")


def _setup_target(args: argparse.Namespace) -> tuple[dict[str, str], str | None, list[str]]:
    """The entry's settings, name and arguments: VertexSMS, or ``connect URL`` with ``--connect``."""
    env = setting_env(args)  # only the options given here, never the environment
    if not getattr(args, "connect", None):
        return env, args.name, []
    from vertex_stdio.connect.servers import resolve

    remote = resolve(args.connect, args.name)
    server_args = ["connect", remote.url, "--name", remote.name]
    if getattr(args, "client_id", None):
        server_args += ["--client-id", args.client_id]
    kept = {k: v for k, v in env.items() if k.removeprefix("VERTEXSMS_") in _CONNECT_SETTINGS}
    return kept, remote.name, server_args


def _connect_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    from vertex_stdio.connect.run import command_for

    return command_for(command, settings, args)


def _auth_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    import anyio

    try:
        from vertex_stdio.oauth import commands
        from vertex_stdio.vertexsms_signin import status_details, vertexsms_profile
    except ImportError:
        print(
            "vertex-stdio: browser sign-in is not available in this build; set VERTEXSMS_API_TOKEN instead.",
            file=sys.stderr,
        )
        return EXIT_FIXABLE
    profile = vertexsms_profile(settings)
    if command == "login" and settings.api_token:
        # The pasted token wins everywhere, so a browser sign-in would never be used.
        print(
            "VERTEXSMS_API_TOKEN is set, so vertex-stdio uses that token and does not sign in. "
            "Unset it to sign in with your browser instead.",
        )
        return EXIT_OK
    if command == "login":
        from vertex_stdio.oauth.display import no_display

        headless = no_display(os.environ, sys.platform)
        try:
            code: int = anyio.run(
                lambda: commands.login(
                    profile,
                    scopes=args.scope,
                    no_browser=args.no_browser,
                    device=args.device,
                    headless=headless,
                    out=sys.stdout,
                )
            )
        except KeyboardInterrupt:
            print("\nSign-in stopped; nothing was changed.", file=sys.stderr)
            return EXIT_INTERRUPTED
        return code
    if command == "logout":
        return anyio.run(lambda: commands.logout(profile, out=sys.stdout))
    details = status_details(settings)
    return anyio.run(lambda: commands.status(profile, as_json=args.as_json, out=sys.stdout, **details))


def run() -> None:
    """Console-script entry point; Ctrl-C ends any command quietly with the shell's 130."""
    try:
        code = main()
    except KeyboardInterrupt:
        # A reader thread may still be blocked on the terminal's stdin, and interpreter exit
        # would wait for it; everything of ours is closed by now, so flush the logs and go.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    sys.exit(code)


if __name__ == "__main__":
    run()
