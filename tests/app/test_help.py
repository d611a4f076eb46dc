"""Each subcommand's ``--help``: a line saying what it does, and only the options it reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vertex_stdio.app.arguments import build_parser, setting_options

EVERY_SETTING = {a.option_strings[0] for a in setting_options()._actions if a.option_strings}
ABOUT = {
    "serve": "Run the stdio MCP server",
    "login": "Sign in with your browser now",
    "logout": "Revoke and forget the sign-in",
    "status": "Who is signed in",
    "call": "Call one tool from the terminal",
    "setup": "Add vertex-stdio to a desktop client's config",
    "history": "The local send journal",
    "doctor": "Check the installation, sign-in and network",
    "connect": "Serve any OAuth-protected remote MCP server",
}
# What each command must not offer: settings it never reads.
NOT_READ = {
    "login": {"--sandbox", "--test-mode", "--max-parts", "--max-eur-per-day", "--confirm-sends"},
    "logout": {"--sandbox", "--test-mode", "--duplicate-window"},
    "status": {"--sandbox", "--test-mode", "--max-messages-per-day"},
    "history": {"--sandbox", "--api-token", "--callback-port", "--client-id", "--duplicate-window"},
    # connect has its own sign-in settings (and its own --client-id); VertexSMS's are not its
    "connect": EVERY_SETTING
    - {"--client-id", "--allow-file-store", "--callback-port", "--log-level", "--signin-timeout"},
}


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(ABOUT))
def test_help_says_what_the_command_does(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The line after the usage block is the command's one-line description."""
    text = help_of(command, capsys)
    description = text.split("\n\n")[1]
    assert description.startswith(ABOUT[command]), text


@pytest.mark.parametrize("command", sorted(NOT_READ))
def test_help_lists_only_the_settings_the_command_reads(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Options of other commands are not offered (and are refused if given)."""
    text = help_of(command, capsys)
    offered = {word.strip("[],") for word in text.split() if word.startswith(("--", "[--"))}
    assert not offered & NOT_READ[command], offered & NOT_READ[command]
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, sorted(NOT_READ[command])[0]])


@pytest.mark.parametrize("command", ["serve", "call", "setup", "doctor"])
def test_commands_that_run_the_server_offer_every_setting(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    assert all(option in text for option in EVERY_SETTING), command


@pytest.mark.slow
def test_the_real_process_prints_the_history_help() -> None:
    """``vertex-stdio history --help`` as typed: exit 0, its description, its limits, no sign-in options."""
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "history", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert ABOUT["history"] in done.stdout
    assert "--max-messages-per-day" in done.stdout
    assert "--callback-port" not in done.stdout
