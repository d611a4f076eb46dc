"""A real ``vertex-stdio`` process's opening and first hosted call, watched in one ordered log.

The process keeps its secrets in ``watched_keyring.WatchedKeyring`` and sends every request
through a recording forward proxy (``HTTP_PROXY``; our one HTTP client honours it for every
host); both write into the same ``Watch`` as the test's own marks, so "before the ``tools/list``
answer" and "at the first call" are read off one sequence, not off a clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forward_proxy import forward_proxy
from stdio_server import INIT, Server
from watch_log import WATCH_FILE, Watch

from bridge import file_keyring_env, rpc
from vertex_stdio.vertexsms.sandbox import Emulator

CALL = {"name": "get_mobile_prefixes", "arguments": {"country": "LT"}}
EARLY = "the lean call path answered 1 calls before the SDK was wanted"
SDK_LOADED = " over stdio ("  # "serving [URL] over stdio (...)": the SDK's session is up
SETTLE_WAIT = 60.0  # seconds, at most, for the SDK to load while the client is idle


@dataclass
class Observed:
    """What one process did: its first call's answer line and what the watch saw."""

    answer: bytes  # the first call's answer line, exactly as written to stdout
    opening: list[dict[str, Any]]  # keyring uses and requests from spawn to the tools/list answer
    at_call: list[dict[str, Any]]  # from there to the first call's answer
    log: str  # stderr and the log file

    @property
    def result(self) -> dict[str, Any]:
        return dict(json.loads(self.answer)["result"])

    def keyring(self, op: str | None = None) -> list[tuple[str, str, str]]:
        """The keyring uses at the first call: (op, service, username)."""
        rows = [e for e in self.at_call if e["kind"] == "keyring" and (op is None or e["op"] == op)]
        return [(e["op"], e["service"], e["username"]) for e in rows]

    def read_first(self) -> list[tuple[str, str, str]]:
        """The keyring uses at the first call before its first request went out."""
        sent = next((e["seq"] for e in self.at_call if e["kind"] == "http"), None)
        rows = [e for e in self.at_call if e["kind"] == "keyring" and (sent is None or e["seq"] < sent)]
        return [(e["op"], e["service"], e["username"]) for e in rows]

    def requests(self) -> list[str]:
        """The requests at the first call (``POST http://host:port/path``)."""
        return [e["request"] for e in self.at_call if e["kind"] == "http"]


def watched_env(home: Path, emulator: Emulator, watch: Watch, **extra: str) -> dict[str, str]:
    """``file_keyring_env`` with the watched keyring writing into ``watch``."""
    return file_keyring_env(
        home,
        emulator,
        PYTHON_KEYRING_BACKEND="watched_keyring.WatchedKeyring",
        **{WATCH_FILE: str(watch.path), "VERTEXSMS_LOG_LEVEL": "DEBUG", **extra},
    )


@contextmanager
def recording_proxy(watch: Watch) -> Iterator[str]:
    """A forward proxy on 127.0.0.1 writing each request into ``watch``; yields its URL."""
    with forward_proxy(lambda line: watch.note("http", request=line)) as proxy:
        yield proxy.url


def observe_first_call(
    env: dict[str, str],
    home: Path,
    watch: Watch,
    label: str,
    *,
    settle: bool = False,
    args: tuple[str, ...] = (),
    call: dict[str, Any] = CALL,
) -> Observed:
    """Spawn ``vertex-stdio ARGS`` (``env`` names the proxy), open the session and list the tools
    as a client does; then, with ``settle``, wait (bounded) until the SDK has loaded while the
    client is idle; then send the first call and read its answer.  Logs go to ``home/logs-LABEL``."""
    env = {**env, "VERTEXSMS_LOG_DIR": str(home / f"logs-{label}")}
    spawned = watch.mark(f"{label}: spawned")
    server = Server(env, home, args)
    try:
        opening = rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized")
        server.send(opening + rpc("list", "tools/list"))
        assert "result" in server.answers({"list"}, timeout=60)["list"]
        if settle:
            _wait_for(lambda: SDK_LOADED in server.diagnostics, SETTLE_WAIT, server)
        listed = watch.mark(f"{label}: tools/list answered" + (", SDK loaded" if settle else ""))
        server.send(rpc("first", "tools/call", call))
        assert "result" in server.answers({"first"}, timeout=60)["first"]
        called = watch.mark(f"{label}: first call answered")
        assert server.close_stdin() < 15
        lines = [line for line in bytes(server.raw).splitlines() if json.loads(line).get("id") == "first"]
        log = server.diagnostics
    finally:
        server.finish()
    used = [e for e in watch.events(after=spawned) if e["kind"] != "mark"]
    return Observed(
        answer=lines[0],
        opening=[e for e in used if e["seq"] < listed],
        at_call=[e for e in used if listed < e["seq"] < called],
        log=log,
    )


def _wait_for(done: Any, timeout: float, server: Server) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not within {timeout} s:\n{server.diagnostics[-2000:]}"
        assert server.proc.poll() is None, server.diagnostics[-2000:]
        time.sleep(0.05)
