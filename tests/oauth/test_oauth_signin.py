"""Browser sign-in end to end: node-oidc-provider on loopback, a scripted browser, our provider."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from oauth_server.harness import (
    SCOPES,
    AuthServer,
    StaticServer,
    node_ready,
    protect,
)
from oauth_server.helpers import Clock, make, page_seen, secrets_of

from vertex_stdio.app.signin import logout, status
from vertex_stdio.core.credentials import Challenge
from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth import OAuthTokenProvider

pytest_plugins = ["oauth_server.fixtures"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]


@pytest.mark.anyio
async def test_first_signin_registers_client_and_token_works(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The first call discovers, registers (DCR), signs in through the browser; a new process reuses it."""
    caplog.set_level(logging.DEBUG)
    mcp_url = protect(resource, as_server.issuer)
    provider = make(mcp_url, tmp_path)
    try:
        token = await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    info = as_server.introspect(token)
    assert info["active"] is True
    assert info["aud"] == mcp_url
    assert set(SCOPES) <= set(info["scope"].split())
    client_id = info["client_id"]
    assert len(as_server.journal("registration", client_id=client_id)) == 1
    [grant] = as_server.journal("grant", client_id=client_id, grant_type="authorization_code")
    assert grant["resource"] == mcp_url
    assert page_seen(browser).startswith("200 ")
    assert "Signed in" in page_seen(browser)
    assert "code=" not in page_seen(browser)
    again = make(mcp_url, tmp_path, store=provider.store)
    try:
        assert await again.token(["sms:send"]) == token
    finally:
        await again.aclose()
    assert len(as_server.journal("grant", client_id=client_id)) == 1
    for secret in [*secrets_of(provider.store), token]:
        assert secret not in caplog.text
    assert token not in (tmp_path / "state" / "auth.json").read_text()
    out, err = capfd.readouterr()
    assert "scripted browser junk" not in out, "the browser's output reached fd 1"
    assert "scripted browser junk" in err


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["path", "root", "header"])
async def test_discovery_finds_metadata(
    as_server: AuthServer, resource: StaticServer, tmp_path: Path, where: str
) -> None:
    """Path-inserted, root, and 401-header-only protected-resource metadata are all found."""
    mcp_url = protect(resource, as_server.issuer, where=where)
    provider = make(mcp_url, tmp_path)
    try:
        target = await provider.target()
    finally:
        await provider.aclose()
    assert target.resource == mcp_url
    assert target.server.issuer == as_server.issuer
    assert target.server.iss_parameter_supported


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["decline", "bad-iss", "no-iss"])
async def test_refused_callbacks_end_the_wait_and_spend_nothing(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """Declined consent, a wrong iss and a missing iss end the sign-in at once; no code is redeemed."""
    monkeypatch.setenv("TEST_BROWSER_MODE", mode)
    mcp_url = protect(resource, as_server.issuer)
    provider = make(mcp_url, tmp_path)
    start = time.monotonic()
    try:
        with pytest.raises(AuthRequired) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert time.monotonic() - start < 15
    expected = "declined" if mode == "decline" else "iss"
    assert expected in caught.value.message
    assert "vertex-stdio login" in caught.value.message
    assert page_seen(browser).startswith("400 ")
    assert as_server.journal("grant", grant_type="authorization_code", client_id=_client(provider)) == []


def _client(provider: OAuthTokenProvider) -> str:
    clients = provider.store.read_state().get("clients", {})
    return next(iter(clients.values()))["client_id"]


@pytest.mark.anyio
async def test_wrong_state_is_ignored_then_wait_times_out_without_a_new_tab(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged state is answered 400 and not redeemed; the call times out; the next call opens no tab."""
    monkeypatch.setenv("TEST_BROWSER_MODE", "bad-state")
    mcp_url = protect(resource, as_server.issuer)
    provider = make(mcp_url, tmp_path, signin_timeout=4.0)
    opened: list[str] = []
    real_opener = provider._opener

    async def counting(url: str) -> bool:
        opened.append(url)
        return await real_opener(url)

    provider._opener = counting
    try:
        with pytest.raises(AuthRequired) as caught:
            await provider.token(["sms:send"])
        assert opened[0] in caught.value.message
        assert caught.value.extra["authorization_url"] == opened[0]
        provider._signin.cancel()  # type: ignore[union-attr]  # abandon the background wait
        await asyncio.sleep(0.1)
        start = time.monotonic()
        with pytest.raises(AuthRequired):
            await provider.token(["sms:send"])
        assert time.monotonic() - start < 1.0
    finally:
        await provider.aclose()
    assert len(opened) == 1
    assert page_seen(browser).startswith("400 ")
    assert as_server.journal("grant", grant_type="authorization_code", client_id=_client(provider)) == []


@pytest.mark.anyio
async def test_refresh_rotates_once_for_many_concurrent_calls(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """An expired token is refreshed once for 20 concurrent calls; the rotated refresh token is stored."""
    mcp_url = protect(resource, as_server.issuer)
    clock = Clock()
    provider = make(mcp_url, tmp_path, clock=clock)
    try:
        first = await provider.token(["sms:send"])
        before = provider.store.read_state()["sessions"]
        clock.offset = 3600.0
        tokens = await asyncio.gather(*(provider.token(["sms:send"]) for _ in range(20)))
        after = provider.store.read_state()["sessions"]
    finally:
        await provider.aclose()
    assert len(set(tokens)) == 1
    assert tokens[0] != first
    client_id = _client(provider)
    [refresh] = as_server.journal("grant", grant_type="refresh_token", client_id=client_id)
    assert refresh["resource"] == mcp_url
    [(account, old)] = before.items()
    assert after[account]["refresh_fingerprint"] != old["refresh_fingerprint"]
    assert as_server.introspect(tokens[0])["active"] is True


@pytest.mark.anyio
async def test_revoked_refresh_token_gives_auth_required(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """invalid_grant on refresh clears the sign-in and answers AUTH_REQUIRED; no crash, no loop."""
    mcp_url = protect(resource, as_server.issuer)
    clock = Clock()
    provider = make(mcp_url, tmp_path, clock=clock, signin_timeout=2.0)
    try:
        await provider.token(["sms:send"])
        [stored] = [provider.store.secrets._data[k] for k in provider.store.secrets._data]  # type: ignore[attr-defined]
        import json

        as_server.revoke(json.loads(stored)["refresh_token"], "refresh_token", _client(provider))
        clock.offset = 3600.0
        monkeypatch.setenv("TEST_BROWSER_MODE", "ignore")
        with pytest.raises(AuthRequired):
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert provider.store.read_state().get("sessions") == {}
    errors = as_server.journal("grant_error", client_id=_client(provider))
    assert [e["error"] for e in errors] == ["invalid_grant"]


@pytest.mark.anyio
async def test_step_up_on_insufficient_scope_asks_for_the_union_once(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """A 403 insufficient_scope leads to one new sign-in with granted + challenged scopes; no loop."""
    mcp_url = protect(resource, as_server.issuer)
    provider = make(mcp_url, tmp_path, scopes=("numbers:read",))
    try:
        narrow = await provider.token(["numbers:read"])
        assert as_server.introspect(narrow)["scope"].split() == ["numbers:read"]
        challenge = Challenge(error="insufficient_scope", scopes=("sms:send",))
        assert await provider.rejected(narrow, challenge) is True
        wide = await provider.token(["sms:send"])
        assert set(as_server.introspect(wide)["scope"].split()) >= {"numbers:read", "sms:send"}
        assert await provider.rejected(wide, challenge) is False
    finally:
        await provider.aclose()
    grants = as_server.journal("grant", grant_type="authorization_code", client_id=_client(provider))
    assert len(grants) == 2


@pytest.mark.anyio
async def test_logout_revokes_then_forgets_and_is_safe_twice(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """logout revokes the refresh and access tokens at the AS, deletes them locally, and can run twice."""
    import io

    mcp_url = protect(resource, as_server.issuer)
    provider = make(mcp_url, tmp_path)
    try:
        token = await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    store = provider.store
    profile = provider.profile
    out = io.StringIO()
    assert await status(profile, as_json=True, out=out, store=store) == 0
    assert '"signed_in": true' in out.getvalue()
    assert token not in out.getvalue()
    assert await logout(profile, out=out, store=store) == 0
    hints = [r["token_type_hint"] for r in as_server.journal("revocation", client_id=_client(provider))]
    assert hints == ["refresh_token", "access_token"]
    assert as_server.introspect(token)["active"] is False
    assert await logout(profile, out=out, store=store) == 0
    assert "not signed in" in out.getvalue()
    assert secrets_of(store) == []
