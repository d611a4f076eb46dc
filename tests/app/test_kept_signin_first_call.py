"""A session signed in with ``login --token``: its first hosted call is answered before the SDK loads.

The token is kept as on a desktop (sealed in the state directory, its key in a file-backed keyring
with a real keyring's priority, ``os_keyring``) by the real ``login --token``; ``serve`` finds the
record at start-up (a file, no keyring) and reads the token at the first call.  Against the sandbox
emulator (REST for the login's check, ``/mcp`` for the hosted tools).  The answers are compared
byte for byte with ``VERTEX_STDIO_LEAN=0``; a kept token that cannot be read, and no sign-in at all,
go to the SDK's session, which words them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from secrets_absent import assert_no_secret
from stdio_server import INIT, Server

from bridge import file_keyring_env, kept_token_env, rpc
from vertex_stdio.app.earlyserve import sign_in_kept
from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, Emulator
from vertex_stdio.vertexsms.settings import Settings

TOKEN = "vx-live-51f0e9d8c7b6a5948372"
EARLY = "the lean call path answered 1 calls before the SDK was wanted"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tokens={TOKEN: ALL_SCOPES}) as emu:
        yield emu


DEBUG_NO_BROWSER = {
    "VERTEXSMS_LOG_LEVEL": "DEBUG",
    "BROWSER": "false",
}  # the log the tests read; no sign-in page


def _first_call(env: dict[str, str], home: Path) -> tuple[bytes, str]:
    """The first call's answer line, sent right after ``tools/list`` as clients do; and the log."""
    server = Server(env, home)
    try:
        call = {"name": "get_mobile_prefixes", "arguments": {"country": "LT"}}
        opening = rpc("init", "initialize", INIT) + rpc(None, "notifications/initialized")
        server.send(opening + rpc("list", "tools/list") + rpc("first", "tools/call", call))
        assert "result" in server.answers({"first"}, timeout=60)["first"]
        assert server.close_stdin() < 15
        lines = [line for line in bytes(server.raw).splitlines() if json.loads(line).get("id") == "first"]
        return lines[0], server.diagnostics
    finally:
        server.finish()


@pytest.mark.slow
def test_the_kept_tokens_first_call_is_answered_before_the_sdk_is_imported(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = kept_token_env(tmp_path, emulator, TOKEN, **DEBUG_NO_BROWSER)
    lean, lean_log = _first_call(env, tmp_path)
    sdk, sdk_log = _first_call({**env, "VERTEX_STDIO_LEAN": "0"}, tmp_path)
    assert lean == sdk
    assert json.loads(lean)["result"]["isError"] is False
    assert "the first lean call is answered; the SDK is not imported" in lean_log
    assert EARLY in lean_log
    assert "tokens: api-token (kept by login --token)" in sdk_log  # the same token, through the SDK
    assert_no_secret(TOKEN, lean_log, sdk_log, lean.decode())


@pytest.mark.slow
def test_a_kept_token_that_cannot_be_read_is_the_sdks_answer(tmp_path: Path, emulator: Emulator) -> None:
    env = kept_token_env(tmp_path, emulator, TOKEN, **DEBUG_NO_BROWSER)
    (tmp_path / "keyring.json").unlink()  # the key is gone: the sealed token cannot be opened
    lean, lean_log = _first_call(env, tmp_path)
    sdk, _ = _first_call({**env, "VERTEX_STDIO_LEAN": "0"}, tmp_path)
    assert lean == sdk
    assert json.loads(lean)["result"]["isError"] is True
    assert "is not readable here" in json.loads(lean)["result"]["content"][0]["text"]
    assert EARLY not in lean_log  # the early path left it to the SDK, whole


@pytest.mark.slow
def test_with_no_sign_in_the_first_call_waits_for_the_sdk(tmp_path: Path, emulator: Emulator) -> None:
    env = file_keyring_env(tmp_path, emulator, **DEBUG_NO_BROWSER)
    lean, lean_log = _first_call(env, tmp_path)
    sdk, _ = _first_call({**env, "VERTEX_STDIO_LEAN": "0"}, tmp_path)
    assert lean == sdk
    assert json.loads(lean)["result"]["isError"] is True  # a sign-in is needed: the SDK's session says how
    assert "before the SDK was wanted" not in lean_log


def test_a_browser_sign_ins_session_counts_and_an_empty_state_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    state = tmp_path / "vertex-stdio" / "auth.json"
    assert not sign_in_kept(Settings())
    state.parent.mkdir(mode=0o700, exist_ok=True)
    state.write_text(json.dumps({"version": 1, "sessions": {}}))
    state.chmod(0o600)
    assert not sign_in_kept(Settings())
    state.write_text(json.dumps({"version": 1, "sessions": {"https://id.example|https://api.example": {}}}))
    assert sign_in_kept(Settings())
