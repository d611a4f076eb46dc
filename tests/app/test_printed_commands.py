"""Every command we print runs as printed: collected from real outputs, then run.

Real processes in a temporary home print their advice — `setup` naming the clients installed
here, `status` signed out and with a kept
token, `login --token` refusals, `login --server` without a keyring, `setup` refusing a folder and
printing an entry, the terminal banner of `serve`, tool errors (`AUTH_REQUIRED`, `POLICY_REFUSED`)
and `doctor`.  Every command found in that text that starts with this installation's launcher is
parsed by our own parser (never a usage error) and run with the launcher exactly as printed: the
read-only ones as they are, the others with `--help` (they would sign in, write or serve).  A bare
`vertex-stdio SUBCOMMAND` (not on PATH under uvx or uv run) in any of that text fails the test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import process_env, vertex
from vertex_stdio.app.arguments import build_parser
from vertex_stdio.core.launcher import launcher
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = pytest.mark.slow

SUBCOMMANDS = "serve|login|logout|status|call|setup|history|policy|optout|doctor|connect"
BARE = re.compile(rf"(?<![\w/\\.-])vertex-stdio (?:{SUBCOMMANDS})(?![\w:-])")
READ_ONLY = {"status", "policy", "history"}
REMOTE = "https://mcp.example.test/mcp"
OPTED_OUT = "+37060000001"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def _env(home: Path, emulator: Emulator) -> dict[str, str]:
    return process_env(
        home,
        VERTEXSMS_API_URL=emulator.api_url,
        VERTEXSMS_MCP_URL=emulator.mcp_url,
        BROWSER="false",
        VERTEXSMS_SIGNIN_TIMEOUT="5",
    )


def _run(env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None) -> str:
    """One real ``vertex-stdio`` process; its stdout and stderr together."""
    done = vertex(env, *args, stdin=stdin, cwd=cwd or Path(env["HOME"]))
    return done.stdout + "\n" + done.stderr


def _banner(env: dict[str, str]) -> str:
    """What `serve` tells a person at a terminal (stdin a pty), up to the line naming Ctrl-C."""
    ours, theirs = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vertex_stdio", "serve"],
        stdin=theirs,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(theirs)
    assert proc.stderr is not None
    text = b""
    deadline = time.monotonic() + 60
    try:
        while b"Ctrl-C stops it" not in text and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                text += chunk
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()
        os.close(ours)
    return text.decode(errors="replace")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (an error envelope's message, its `change`, a doctor fix…)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _texts(output: str) -> list[str]:
    """``output`` itself and, for each line that is JSON, its strings."""
    texts = [output]
    for line in output.splitlines():
        if line.startswith(("{", "[")):
            try:
                texts += list(_strings(json.loads(line)))
            except ValueError:
                continue
    with contextlib.suppress(ValueError):  # a JSON document over several lines (status --json)
        texts += list(_strings(json.loads(output.split("\n\n")[0])))
    return texts


def commands_in(text: str, me: str) -> list[str]:
    """The commands in ``text`` that start with the launcher ``me``: up to a backquote, a quote,
    the end of the line or " (" — and never the argument of another program's ``--cli``."""
    found = []
    for match in re.finditer(re.escape(me) + r"(?P<rest>(?:(?! \()[^`\n\"])*)", text):
        if text[: match.start()].endswith("--cli "):
            continue  # the inspector's own command line, which it runs for us
        command = (me + match.group("rest")).rstrip(" .,;")
        if command.endswith(")") and command.count(")") > command.count("("):
            command = command[:-1]  # "(… run X)": the sentence's parenthesis, not the command's
        found.append(command)
    return found


def _outputs(home: Path, emulator: Emulator) -> list[str]:
    """Every real output that names commands (see the module docstring)."""
    env = _env(home, emulator)
    no_keyring_env = {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    token = "vx-printed-commands-0123456789"
    for folder in (".cursor", ".gemini", ".codex", ".continue", ".codeium/windsurf"):
        (home / folder).mkdir(parents=True, exist_ok=True)  # clients `setup` finds installed
    outputs = [
        _run(env, "setup"),  # the clients installed here, each with its setup command
        _run(env, "status"),
        _run(env, "status", "--json"),
        _run(env, "login", "--token", token),
        _run(no_keyring_env, "login", "--token", stdin=token),
        _run(no_keyring_env, "login", "--server", REMOTE),
        _run(env, "setup", "vscode", "--write"),  # from the home folder: refused, with the command
        _run(env, "setup", "cursor", "--connect", REMOTE, "--sandbox"),
        _run(env, "call", "get_sms_rates", "--arg", "country=LT"),  # no authorization server named
        _run({**env, "VERTEXSMS_API_TOKEN": token}, "call", "get_sms_rates", "--arg", "country=LT"),  # 401
        _run(env, "optout", "add", OPTED_OUT),
        _run(
            env,
            "call",
            "send_sms",
            "--sandbox",
            "--json",
            json.dumps({"to": OPTED_OUT, "from": "ACME", "message": "hi"}),
        ),
        _run(env, "doctor", "--json"),
        _banner(env),
    ]
    with Emulator(tokens={token: ["sms:rates"]}) as other:
        kept_env = {**_env(home, other), "VERTEXSMS_ALLOW_FILE_STORE": "1", **no_keyring_env}
        kept_env.update(VERTEXSMS_API_URL=other.api_url)
        outputs.append(_run(kept_env, "login", "--token", "--allow-file-store", stdin=token))
        outputs.append(_run(kept_env, "status"))
    return outputs


def test_every_printed_command_runs_as_printed(tmp_path: Path, emulator: Emulator) -> None:
    me = launcher()
    outputs = _outputs(tmp_path, emulator)
    texts = [text for output in outputs for text in _texts(output)]
    bare = sorted({m.group(0) for text in texts for m in BARE.finditer(text)})
    assert not bare, f"commands printed without the launcher that runs here: {bare}"
    printed = sorted({command for text in texts for command in commands_in(text, me)})
    subcommands = {
        shlex.split(c)[len(shlex.split(me))] for c in printed if len(shlex.split(c)) > len(shlex.split(me))
    }
    assert {"login", "logout", "policy", "optout", "setup", "call", "connect"} <= subcommands, printed
    assert len(printed) >= 16, printed
    assert {f"{me} setup cursor --write", f"{me} setup gemini --write"} <= set(printed), printed
    parser = build_parser()
    for command in printed:
        words = shlex.split(command)
        assert words[: len(shlex.split(me))] == shlex.split(me), command
        args = words[len(shlex.split(me)) :]
        assert _parses(parser, args), f"printed command is a usage error: {command}"
        run = args if args and args[0] in READ_ONLY else [*args, "--help"]
        done = subprocess.run(
            [*words[: len(shlex.split(me))], *run],
            capture_output=True,
            text=True,
            timeout=90,
            env=_env(tmp_path, emulator),
            check=False,
        )
        assert done.returncode != 2, f"{command}: {done.stderr[-400:]}"
        if run[-1:] == ["--help"]:
            assert done.returncode == 0, f"{command} --help: {done.stderr[-400:]}"


def _parses(parser: argparse.ArgumentParser, args: list[str]) -> bool:
    """False only when our own parser calls ``args`` a usage error (``--help`` exits 0)."""
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        return exc.code != 2
    return True


def test_the_collector_finds_commands_and_refuses_bare_ones() -> None:
    """The two rules above on known text, so neither can pass by finding nothing."""
    me = "/opt/x/bin/vertex-stdio"
    text = (
        f"Run `{me} login` now, or pipe it: `printf '%s' \"$T\" | {me} login --token`.\n"
        f"  npx -y @modelcontextprotocol/inspector --cli {me} --sandbox --method tools/list\n"
        f"To add it: {me} setup claude-desktop (or cursor). run: {me} status\n"
        f"(change it with {me} optout remove +37060000001)."
    )
    assert commands_in(text, me) == [
        f"{me} login",
        f"{me} login --token",
        f"{me} setup claude-desktop",
        f"{me} status",
        f"{me} optout remove +37060000001",
    ]
    assert BARE.search("run `vertex-stdio login` first")
    assert not BARE.search(f"`{me} login`")
    assert not BARE.search("vertex-stdio login: --token takes no value")
