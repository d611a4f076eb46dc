"""Every command ``connect`` prints runs as printed for this installation (issue 17's rule).

Each backticked command in connect's advice (the sentences its errors, warnings and ``status``
end with) starts with this installation's launcher and parses with ``vertex-stdio``'s own
argument parser for the server it names; ``setup --connect``'s entry and the advice's commands
are run as printed in new processes.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import process_env
from vertex_stdio.app.arguments import build_parser
from vertex_stdio.bridge.servers import advice_for, remember, resolve
from vertex_stdio.core.launcher import launcher

URL = "http://127.0.0.1:9/mcp"  # nothing listens: the commands must parse and start, not sign in
BACKTICKED = re.compile(r"`([^`]+)`")


def advice_commands(base: Path) -> list[list[str]]:
    """Every backticked command in the advice of a server connected as ``notes``, split as a shell would."""
    server = resolve(URL, "notes", base)
    remember(server, base)
    advice = advice_for(server)
    texts = [value for value in vars(advice).values() if isinstance(value, str)]
    # the two commands messages put in backticks themselves, and every one the sentences hold
    spans = [advice.login_command, advice.logout_command]
    spans += [span for text in texts for span in BACKTICKED.findall(text)]
    return [shlex.split(span) for span in spans if not span.startswith("-")]  # `--client-id ID`: an option


def test_every_command_in_connects_advice_is_this_installations_and_parses(tmp_path: Path) -> None:
    ours = shlex.split(launcher())
    found = advice_commands(tmp_path)
    assert len(found) >= 6, found
    seen = set()
    for argv in found:
        assert argv[: len(ours)] == ours, argv  # the launcher, never a bare `vertex-stdio`
        args = build_parser().parse_args(argv[len(ours) :])  # a usage error raises SystemExit
        seen.add(args.command)
        if args.command == "connect":
            assert (args.url, args.name) == (URL, "notes")
        else:
            assert args.server == "notes", argv
    assert seen == {"connect", "login", "logout"}


@pytest.mark.slow
def test_the_printed_commands_run(tmp_path: Path) -> None:
    """``setup claude-desktop --connect URL --name notes`` prints an entry whose command starts
    ``connect`` (it serves until stdin closes, exit 0); each advice command runs without a usage
    error (exit 2) — a sign-in to a server that is not there fails with exit 1, as it should."""
    env = process_env(tmp_path / "home")
    base = Path(env["XDG_STATE_HOME"]) / "vertex-stdio"
    entry = subprocess.run(
        [
            sys.executable,
            "-m",
            "vertex_stdio",
            "setup",
            "claude-desktop",
            "--connect",
            URL,
            "--name",
            "notes",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert entry.returncode == 0, entry.stderr
    server = json.loads(entry.stdout[entry.stdout.index("{") :])["mcpServers"]["notes"]
    served = subprocess.run(
        [server["command"], *server["args"]],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    assert "serving" in served.stderr, served.stderr
    code = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "setup", "claude-code", "--connect", URL, "--name", "notes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    [add] = [line for line in code.stdout.splitlines() if line.startswith("claude mcp add")]
    argv = shlex.split(add)
    started = argv[argv.index("--") + 1 :]  # what claude will start, as printed
    assert started == [server["command"], *server["args"]]
    ran = 0
    for argv in advice_commands(base):
        done = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode in (0, 1), (argv, done.stdout, done.stderr)
        assert "usage:" not in done.stderr, (argv, done.stderr)
        ran += 1
    assert ran >= 6
