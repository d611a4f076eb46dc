"""Every command we print runs as printed, with no ``vertex-stdio`` on PATH.

The real process is started the ways people start it — an installed venv's console script by its
path, and ``uv run`` from a checkout — with a PATH that holds no ``vertex-stdio``.  Each printed
command (an error's advice, ``status``'s note, a limit's ``history``) is cut out of the output and
run as printed in a new process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge import process_env
from vertex_stdio.core.launcher import SCRIPT_NAME, launcher
from vertex_stdio.vertexsms.sandbox import Emulator

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / SCRIPT_NAME
SEND = {"to": "+37061234567", "from": "ACME", "message": "hi"}
BACKTICKED = re.compile(r"`([^`]+)`")


def _bare_path() -> str:
    """A PATH with the system's tools and uv, but no ``vertex-stdio``."""
    uv = shutil.which("uv")
    dirs = ["/usr/bin", "/bin"] + ([str(Path(uv).resolve().parent)] if uv else [])
    return os.pathsep.join(d for d in dirs if not (Path(d) / SCRIPT_NAME).exists())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    made = process_env(
        tmp_path, PATH=_bare_path(), VERTEXSMS_MAX_MESSAGES_PER_DAY="1", VERTEXSMS_DUPLICATE_WINDOW="0"
    )
    assert shutil.which(SCRIPT_NAME, path=made["PATH"]) is None
    return made


LAUNCHES = {
    "venv-script": lambda: [str(SCRIPT)],
    "uv-run": lambda: [
        shutil.which("uv") or "uv",
        "run",
        "--frozen",
        "--no-sync",
        "--project",
        str(REPO),
        SCRIPT_NAME,
    ],
}


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def printed(text: str, word: str) -> list[str]:
    """The backticked command in ``text`` that runs ``word``, split as a shell would."""
    found = [c for c in BACKTICKED.findall(text) if f" {word}" in c]
    assert found, f"no `... {word}` in {text!r}"
    return shlex.split(found[0])


def check_runs(argv: list[str], env: dict[str, str], cwd: Path, *, expect: int = 0) -> str:
    """``argv`` starts with an absolute launcher and runs, exit ``expect``; its stdout."""
    assert Path(argv[0]).is_absolute(), argv
    done = run(argv, env, cwd)
    assert done.returncode == expect, (argv, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(LAUNCHES))
def test_a_limit_errors_history_command_runs_as_printed(
    how: str, env: dict[str, str], tmp_path: Path
) -> None:
    """The second sandbox send crosses the 1-a-day limit; its `... history` runs and lists the first."""
    if how == "uv-run" and shutil.which("uv") is None:
        pytest.skip("uv is not installed here")  # the venv-script case still runs
    start = LAUNCHES[how]()
    args = ["call", "send_sms", "--sandbox", "--json", json.dumps(SEND)]
    first = run([*start, *args], env, tmp_path)
    assert first.returncode == 0, first.stderr
    second = run([*start, *args], env, tmp_path)
    error: dict[str, Any] = json.loads(second.stdout)["error"]
    assert error["code"] == "SPEND_LIMIT", error
    out = check_runs(printed(error["message"], "history"), env, tmp_path)
    assert json.loads(first.stdout)["message_id"] in out


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(LAUNCHES))
def test_auth_advice_and_status_name_a_login_that_runs(
    how: str, env: dict[str, str], tmp_path: Path, emulator: Emulator
) -> None:
    """AUTH_INVALID, its how_to_sign_in, `status`'s note and `doctor`'s fix each name a login that runs."""
    if how == "uv-run" and shutil.which("uv") is None:
        pytest.skip("uv is not installed here")
    start = LAUNCHES[how]()
    upstream = {**env, "VERTEXSMS_API_URL": emulator.api_url, "VERTEXSMS_MCP_URL": emulator.mcp_url}
    refused = run(
        [*start, "call", "get_sms_rates", "--arg", "country=LT"],
        {**upstream, "VERTEXSMS_API_TOKEN": "wrong-token-0123456789"},
        tmp_path,
    )
    error: dict[str, Any] = json.loads(refused.stdout)["error"]
    assert error["code"] == "AUTH_INVALID", error
    status = run([*start, "status"], upstream, tmp_path)
    assert status.returncode == 1, status.stderr
    doctor = run([*start, "doctor"], upstream, tmp_path)
    fix = re.search(r"to sign in now: (.+)$", doctor.stdout, re.MULTILINE)
    assert fix, doctor.stdout
    commands = [
        printed(error["message"], "login"),
        printed(error["how_to_sign_in"], "login"),
        printed(status.stdout + status.stderr, "login"),
        shlex.split(fix[1]),
    ]
    for login in commands:
        # With a pasted token, login answers at once that it is not needed: the command itself ran.
        out = check_runs(login, {**upstream, "VERTEXSMS_API_TOKEN": "any-token-0123456789"}, tmp_path)
        assert "VERTEXSMS_API_TOKEN is set" in out


def test_the_launcher_is_this_installations_script() -> None:
    """In-process (as the tests run), the launcher is the venv's script by its absolute path."""
    assert shlex.split(launcher()) == [str(SCRIPT.absolute())]


def test_insufficient_scope_names_a_login_with_one_scope_option_per_scope() -> None:
    """A 403 asking for two scopes: `<launcher> login --scope a --scope b`, as login takes them."""
    from vertex_stdio.vertexsms.api.outcomes import Operation, error_for_status

    op = Operation(tool="get_operator", scope="numbers:read", costs_or_changes=False)
    challenge = 'Bearer error="insufficient_scope", scope="numbers:read sms:rates"'
    error = error_for_status(op, 403, {"www-authenticate": challenge}, b"")
    login = printed(error.message, "login")
    assert login == [*shlex.split(launcher()), "login", "--scope", "numbers:read", "--scope", "sms:rates"]
    from vertex_stdio.app.arguments import build_parser

    assert build_parser().parse_args(login[1:]).scope == ["numbers:read", "sms:rates"]
