"""``connect --header NAME=VAR``'s first calls, sent before the SDK is loaded: the link path's
answers, byte for byte, and every request carrying the link's headers.

As ``test_connect_early_calls``: two fresh ``vertex-stdio connect`` processes with a cached offer,
one with the early path and one with ``VERTEX_STDIO_LEAN_CALLS=0`` (the link path only), the same
first calls (every failure the script makes, on a tool that is not read-only and on one that is)
-- here with two ``--header``s whose values come from the environment.  Every HTTP request the
remote receives from either process (the opening, the calls, a 2025 session's GET stream, the
answers to the remote's requests, the DELETE) is noted with its headers: the early process's
carry exactly the link's (the ``--header`` values, the same ``User-Agent``), and the header values
never appear in the log at DEBUG.  A ``--header`` naming an unset variable stays a usage error
(exit 2) that nothing reaches the remote before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import serve_in_thread
from stdio_server import INIT, Server
from test_connect_early_calls import (
    OPENING,
    TIMEOUT,
    Remote,
    _asked,
    _call,
    _cases,
    _early_answered,
    _requests,
    _same,
    cached,
    first_calls,
)

from bridge import process_env, rpc

pytestmark = pytest.mark.slow

KEY = "hdr-key-5c1e9a7f3b2d8e4a6c0f"  # test-only: must never be logged
TENANT = "tenant-42-b7"
HEADERS = ("--header", "X-Api-Key=EO_API_KEY", "--header", "X-Tenant = EO_TENANT")
NOTED = ("x-api-key", "x-tenant", "user-agent", "authorization")


class Noted:
    """``app`` with every HTTP request noted: its method and the headers in ``NOTED`` (absent: None)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode() for k, v in scope["headers"]}
            noted = {name: headers.get(name) for name in NOTED}
            self.seen.append((scope["method"], json.dumps(noted, sort_keys=True, ensure_ascii=False)))
        await self._app(scope, receive, send)


@pytest.fixture(params=[("sse", "modern"), ("json", "legacy")], ids=["sse-modern", "json-legacy"])
def remotes(request: pytest.FixtureRequest) -> Iterator[tuple[tuple[Remote, Noted], tuple[Remote, Noted]]]:
    kind, era = request.param
    early, off = Remote(kind, era), Remote(kind, era)
    noted_early, noted_off = Noted(early.received), Noted(off.received)
    with serve_in_thread(noted_early) as one, serve_in_thread(noted_off) as two:
        early.url, off.url = f"{one}/mcp", f"{two}/mcp"
        yield (early, noted_early), (off, noted_off)


def _env(home: Path, lean: str, **extra: str) -> dict[str, str]:
    env = process_env(
        home,
        VERTEXSMS_ALLOW_FILE_STORE="1",
        VERTEXSMS_HTTP_TIMEOUT=str(TIMEOUT),
        VERTEX_STDIO_LEAN_CALLS=lean,
        VERTEXSMS_LOG_LEVEL="DEBUG",
        EO_API_KEY=KEY,
        EO_TENANT=f"  {TENANT} ",  # the link strips it: so must the early path
    )
    return {**env, **extra}


def _opened(home: Path, url: str, lean: str, **extra: str) -> Server:
    server = Server(_env(home, lean, **extra), home, ("connect", url, "--max-answer-mib", "0.1", *HEADERS))
    server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
    server.send(rpc("list", "tools/list"))
    assert "result" in server.answers({"list"}, timeout=30)["list"]
    return server


def test_first_calls_with_headers_carry_the_links_headers_and_answer_its_bytes(
    tmp_path: Path, remotes: tuple[tuple[Remote, Noted], tuple[Remote, Noted]]
) -> None:
    (early_remote, early_noted), (off_remote, off_noted) = remotes
    for name, remote, noted in (("early", early_remote, early_noted), ("off", off_remote, off_noted)):
        cached(tmp_path / name, remote.url, _opened)
        remote.forget()
        noted.seen.clear()
    lines = _cases()
    early, early_log = first_calls(
        tmp_path / "early", early_remote.url, "1", lines, at_once=True, opened=_opened
    )
    off, off_log = first_calls(tmp_path / "off", off_remote.url, "0", lines, at_once=False, opened=_opened)
    _same(early, off)
    assert _asked(early_remote) == _asked(off_remote)
    assert _requests(early_remote, ("tools/call",)) == _requests(off_remote, ("tools/call",))
    assert _requests(early_remote, OPENING) == _requests(off_remote, OPENING)
    assert _early_answered(early_log) >= 2 * 4 + 1  # at least the plain successes of both tools, and echo
    # every request either process sent carried the same headers: the --header values, the link's
    # User-Agent, no Authorization (no sign-in here)
    carried = {headers for _, headers in early_noted.seen}
    assert carried == {headers for _, headers in off_noted.seen}
    [one] = carried
    assert json.loads(one)["x-api-key"] == KEY
    assert json.loads(one)["x-tenant"] == TENANT
    assert json.loads(one)["user-agent"].startswith("vertex-stdio/")
    kinds = {method for method, _ in early_noted.seen}
    if early_remote.era == "legacy":  # a 2025 session: its own event stream, its end
        assert kinds == {"POST", "GET", "DELETE"}
        assert any(s["answer"] for s in early_remote.received.seen)  # the answers to its requests
    for log in (early_log, off_log):
        assert KEY not in log
        assert TENANT not in log


def test_a_header_from_an_unset_variable_is_a_usage_error_before_anything_goes_out(tmp_path: Path) -> None:
    """The cached offer answers the opening; the first call waits for ``command_for``, which refuses
    the command line (exit 2): the remote received nothing from this process."""
    remote = Remote("sse", "modern")
    noted = Noted(remote.received)
    with serve_in_thread(noted) as base:
        remote.url = f"{base}/mcp"
        cached(tmp_path, remote.url, _opened)
        noted.seen.clear()
        env = _env(tmp_path, "1", EO_API_KEY="")
        server = Server(env, tmp_path, ("connect", remote.url, *HEADERS))
        try:
            server.send(rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized"))
            server.send(rpc("list", "tools/list") + _call("first", "act", {"how": "ok"}))
            assert "result" in server.answers({"list"}, timeout=30)["list"]
            server.proc.wait(timeout=30)
            assert server.proc.returncode == 2
            assert "EO_API_KEY is not set" in server.diagnostics
        finally:
            server.finish()
    assert noted.seen == []
    assert remote.script.seen["act:ok"] == 0
