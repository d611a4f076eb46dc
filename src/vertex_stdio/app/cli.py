"""The composition root: parse the command line, read settings, run the command.

Commands other than ``serve`` write their results to stdout (marked ``# stdout-ok``);
``serve`` (``serving.py``) never does: stdout is the MCP protocol.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vertex_stdio.app.arguments import (
    build_parser,
    setting_env,
    setting_flags,
    setting_options,
    settings_from,
)
from vertex_stdio.app.serving import serve, serve_misconfigured, upstream_for
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ConfigError
from vertex_stdio.core.launcher import command as printed
from vertex_stdio.vertexsms.settings import Settings

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.journal.reading import Place


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
            return serve_misconfigured(str(exc))
        return EXIT_USAGE
    from vertex_stdio.core import logs

    logs.configure(settings.log_level)
    command = args.command or "serve"
    misused = _misused(command, args)
    if misused:
        print(f"vertex-stdio: {misused}", file=sys.stderr)
        return EXIT_USAGE
    if command == "connect" or getattr(args, "server", None):
        return _connect_command(command, settings, args)
    if command in ("setup", "doctor"):
        return _desktop_command(command, settings, args)
    if command == "serve":
        return serve(settings)
    if command == "history" and (args.verify or args.export):
        return _audit_command(args)
    if command == "history":
        from vertex_stdio.vertexsms.journal.history import run_history

        return run_history(
            settings,
            _journal_place(),
            as_json=args.as_json,
            since=args.since,
            pending=args.pending,
            out=sys.stdout,
            err=sys.stderr,
        )
    if command in ("policy", "optout"):
        return _policy_command(command, settings, args)
    if command == "call":
        from vertex_stdio.app.call import call_tool

        return call_tool(settings, upstream_for, args.tool, args.arg, args.json_args)
    return _auth_command(command, settings, args)


def _misused(command: str, args: argparse.Namespace) -> str | None:
    """Why these options cannot go together (a usage error, exit 2), or None.  A value given to
    a secret-taking flag is never echoed: it may be the secret."""
    asked = getattr(args, "ask_client_secret", False)
    if asked not in (True, False):
        return (
            "--ask-client-secret takes no value: a secret in a command line is visible to other "
            "processes and kept in shell history. Run it without one and type the secret at the "
            "prompt (or pipe it in)."
        )
    if asked and not args.server:
        return "--ask-client-secret is for `login --server NAME --client-id ID`."
    if getattr(args, "client_auth", None):
        if command != "connect" and not (getattr(args, "server", None) or getattr(args, "connect", None)):
            return "--client-auth is for a remote server: `connect URL`, `--server NAME` or `setup --connect URL`."
        if not getattr(args, "client_id", getattr(args, "remote_client_id", None)):
            return "--client-auth says how a pre-registered client's secret is sent: it needs --client-id."
    if command == "login" and getattr(args, "server", None) and args.token is not False:
        from vertex_stdio.core.launcher import command as printed

        again = printed(f"login --server {shlex.quote(args.server)}")
        return (
            "--token keeps a VertexSMS API token; it is not for `login --server`. A remote server is "
            f"signed in to in the browser: run `{again}` (a pre-registered client: add --client-id ID "
            "--ask-client-secret). A server that takes an API key instead: add --header NAME=VAR to "
            "its `connect URL` command, with the key in environment variable VAR."
        )
    return None


def _journal_place() -> Place:
    """Where the journal is: the team's database when the policy names one, else the state dir's file."""
    from vertex_stdio.vertexsms.journal import default_path
    from vertex_stdio.vertexsms.journal.reading import Place
    from vertex_stdio.vertexsms.policy import load

    return Place(load(os.environ), default_path())


def _audit_command(args: argparse.Namespace) -> int:
    from vertex_stdio.vertexsms.journal.audit import run_export, run_verify

    if args.verify:
        return run_verify(_journal_place(), out=sys.stdout, err=sys.stderr)
    return run_export(_journal_place(), args.export, args.since, out=sys.stdout, err=sys.stderr)


def _policy_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    if command == "policy":
        from vertex_stdio.vertexsms.policy.command import run_policy

        return run_policy(os.environ, as_json=args.as_json, out=sys.stdout, err=sys.stderr)
    from vertex_stdio.vertexsms.journal.optout import run_optout

    return run_optout(
        _journal_place(), args.action, args.numbers, as_json=args.as_json, out=sys.stdout, err=sys.stderr
    )


def _desktop_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    if command == "setup" and args.client is None:
        return _setup_list(args)
    if command == "setup":
        from vertex_stdio.desktop.setup import run_setup

        try:
            env, name, server_args = _setup_target(args)
        except ConfigError as exc:
            print(f"vertex-stdio setup: {exc}", file=sys.stderr)
            return EXIT_USAGE
        from vertex_stdio.vertexsms.apitoken import keep_pasted

        again = printed(f"setup {args.client} --api-token")
        return run_setup(
            args.client,
            write=args.write,
            config_path=args.config,
            out=sys.stdout,
            err=sys.stderr,
            env=env,
            # only --api-token, never the environment; a connect entry takes no token at all
            api_token=None if server_args else args.setup_token,
            keep_token=lambda given: keep_pasted(settings, inp=sys.stdin, again=again, given=given),
            name=name,
            server_args=server_args,
        )
    from vertex_stdio.desktop.doctor import run_doctor

    return run_doctor(settings, as_json=args.as_json, out=sys.stdout)


def _setup_list(args: argparse.Namespace) -> int:
    """``setup`` with no client: the installed clients, each command carrying the options given."""
    from vertex_stdio.desktop.detect import run_list

    flags = setting_flags(args)
    for option, value in (("--name", args.name), ("--connect", args.connect)):
        flags += [option, str(value)] if value else []
    return run_list(sys.stdout, flags)


# The settings that also apply to `connect` (sign-in storage, callback port, timeouts, logs).
_CONNECT_SETTINGS = ("ALLOW_FILE_STORE", "CALLBACK_PORT", "SIGNIN_TIMEOUT", "LOG_LEVEL")


def _setup_target(args: argparse.Namespace) -> tuple[dict[str, str], str | None, list[str]]:
    """The entry's settings, name and arguments: VertexSMS, or ``connect URL`` with ``--connect``."""
    env = setting_env(args)  # only the options given here, never the environment
    if not getattr(args, "connect", None):
        return env, args.name, []
    from vertex_stdio.bridge.servers import resolve

    remote = resolve(args.connect, args.name)
    server_args = ["connect", remote.url, "--name", remote.name]
    if getattr(args, "client_id", None):
        server_args += ["--client-id", args.client_id]
    if args.client_auth:
        server_args += ["--client-auth", args.client_auth]
    if args.setup_token is not None:
        raise ConfigError(
            f"--api-token is a VertexSMS setting; an entry for `{printed('connect ' + shlex.quote(remote.url))}` "
            "cannot use it. "
            "Leave it out, or run setup without --connect for a VertexSMS entry."
        )
    for action in setting_options()._actions:
        if hasattr(args, action.dest) and action.dest.upper() not in (*_CONNECT_SETTINGS, "CLIENT_ID"):
            # Dropping it silently would leave the user believing the entry honours it.
            raise ConfigError(
                f"{action.option_strings[0]} is a VertexSMS setting; an entry for "
                f"`{printed('connect ' + shlex.quote(remote.url))}` "
                "cannot use it. Leave it out, or run setup without --connect for a VertexSMS entry."
            )
    env.pop("VERTEXSMS_CLIENT_ID", None)  # connect takes it as --client-id (above)
    return env, remote.name, server_args


def _connect_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    if command == "connect":
        from vertex_stdio.app.connectfront import lean_connect

        return lean_connect(settings, args)
    from vertex_stdio.app.connect import command_for

    return command_for(command, settings, args)


def _auth_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    import anyio

    try:
        from vertex_stdio.app import signin as commands
        from vertex_stdio.vertexsms.signin import status_details, vertexsms_profile
    except ImportError:
        print(
            "vertex-stdio: browser sign-in is not available in this build; set VERTEXSMS_API_TOKEN instead.",
            file=sys.stderr,
        )
        return EXIT_FIXABLE
    from vertex_stdio.app import apitoken

    if command == "login" and args.token is not False:
        return apitoken.login_token(settings, inp=sys.stdin, out=sys.stdout, err=sys.stderr, value=args.token)
    profile = vertexsms_profile(settings)
    if command == "login" and settings.api_token:
        # The pasted token wins everywhere, so a browser sign-in would never be used.
        print(  # stdout-ok: login's answer on the terminal
            "VERTEXSMS_API_TOKEN is set, so vertex-stdio uses that token and does not sign in. "
            "Unset it to sign in with your browser instead.",
        )
        return EXIT_OK
    if command == "login" and apitoken.kept_token_wins(sys.stdout):
        return EXIT_OK
    if command == "login":
        from vertex_stdio.oauth.protocol.display import no_display

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
        forgot = anyio.run(lambda: apitoken.forget_token(settings, sys.stdout))
        return max(forgot, anyio.run(lambda: commands.logout(profile, out=sys.stdout)))
    details = apitoken.status_details(settings, status_details(settings))
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
