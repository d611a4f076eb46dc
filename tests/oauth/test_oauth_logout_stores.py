"""logout and status with a sign-in this process cannot read: the fix is named, nothing is lost."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from vertex_stdio.app.signin import logout, status
from vertex_stdio.core.launcher import launcher
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.secrets import FileSecrets, MemorySecrets, SecretsUnavailable
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

KEY = SessionKey("http://127.0.0.1:9", "http://127.0.0.1:9/mcp", "client-1")
ADVICE = Advice(sign_in="Sign in.", file_store_setting="X_ALLOW_FILE_STORE", callback_port_setting="X_PORT")
PROFILE = SignInProfile("http://127.0.0.1:9/mcp", "Test", "test", ADVICE, http_timeout=2.0)
TOKENS = Tokens("AT-logout-0123456789", "RT-logout-0123456789", time.time() + 3600, ("a",))


class LockedSecrets(MemorySecrets):
    """A keyring that is locked: every read and write is refused with what to do."""

    label = "keyring (locked)"
    persistent = True

    def get(self, account: str) -> str | None:
        raise SecretsUnavailable("The keyring is locked; unlock it and try again.")

    def delete(self, account: str) -> None:
        raise SecretsUnavailable("The keyring is locked; unlock it and try again.")


@pytest.mark.anyio
async def test_logout_keeps_a_sign_in_it_cannot_read_and_says_how_to_fix_it(tmp_path: Path) -> None:
    """A locked keyring: the sign-in is neither revoked nor deleted; exit 1 naming the unlock and
    the command to run again."""
    await TokenStore(tmp_path, FileSecrets(tmp_path / "elsewhere.json")).save(KEY, TOKENS)
    locked = TokenStore(tmp_path, LockedSecrets())
    out = io.StringIO()
    assert await logout(PROFILE, out=out, store=locked, stores=[locked]) == 1
    said = out.getvalue()
    assert "neither revoked nor deleted" in said
    assert "unlock it and try again" in said
    assert f"run `{launcher()} logout` again" in said
    assert KEY.account in locked.read_state()["sessions"]


@pytest.mark.anyio
async def test_logout_finds_the_sign_in_in_any_store_it_is_given(tmp_path: Path) -> None:
    """The sign-in is in the second store: it is found there and deleted from every store
    (the authorization server is unreachable here, which logout reports)."""
    plain = TokenStore(tmp_path, FileSecrets(tmp_path / "plain.json"))
    await plain.save(KEY, TOKENS)
    memory = TokenStore(tmp_path, MemorySecrets())
    out = io.StringIO()
    assert await logout(PROFILE, out=out, store=memory, stores=[memory, plain]) == 0
    assert "Could not reach the sign-in server" in out.getvalue()
    assert f"Signed out of {KEY.issuer}" in out.getvalue()
    assert not (tmp_path / "plain.json").exists()
    assert memory.read_state().get("sessions") == {}


@pytest.mark.anyio
async def test_status_without_a_keyring_names_the_login_that_works(tmp_path: Path) -> None:
    """No sign-in and only memory here: status advises `login --allow-file-store` (a plain
    `login` would refuse) and the setting the server needs."""
    out = io.StringIO()
    code = await status(PROFILE, as_json=False, out=out, store=TokenStore(tmp_path, MemorySecrets()))
    assert code == 1
    assert f"Sign in with `{launcher()} login --allow-file-store`" in out.getvalue()
    assert "X_ALLOW_FILE_STORE=1" in out.getvalue()


@pytest.mark.anyio
async def test_status_of_a_locked_keyring_names_the_unlock(tmp_path: Path) -> None:
    """A sign-in the locked keyring holds: status says to unlock it, not to sign in again."""
    await TokenStore(tmp_path, FileSecrets(tmp_path / "elsewhere.json")).save(KEY, TOKENS)
    out = io.StringIO()
    code = await status(PROFILE, as_json=False, out=out, store=TokenStore(tmp_path, LockedSecrets()))
    assert code == 1
    assert "Fix: keyring (locked): The keyring is locked; unlock it and try again." in out.getvalue()
    assert "Sign in with" not in out.getvalue()
