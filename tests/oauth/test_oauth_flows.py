"""Sign-in flows around the edges: tampered discovery, login --no-browser, shared sign-in, status."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect, static_server
from oauth_server.helpers import make

from vertex_stdio.app.signin import login, status
from vertex_stdio.core.errors import UpstreamError, UpstreamUnavailable
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.storage.secrets import FileSecrets, MemorySecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytest_plugins = ["oauth_server.fixtures"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

HERE = Path(__file__).resolve().parents[2] / "tests" / "support" / "oauth_server"


def serve_metadata(
    server: StaticServer, real: dict[str, object], *, oidc_only: bool, **changes: object
) -> str:
    """Serve ``real`` metadata at ``server`` as if it were the issuer (with ``changes``)."""
    body = {**real, "issuer": server.url, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    if not oidc_only:
        server.json("/.well-known/oauth-authorization-server", body)
    server.json("/.well-known/openid-configuration", body)
    return server.url


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "oidc_only", "refusal"),
    [
        ({}, True, None),
        ({}, False, None),
        ({"issuer": "http://127.0.0.1:9/other"}, False, "issuer"),
        ({"code_challenge_methods_supported": None}, False, "S256"),
        ({"code_challenge_methods_supported": ["plain"]}, True, "S256"),
    ],
)
async def test_tampered_authorization_server_metadata_is_refused_before_any_browser(
    as_server: AuthServer,
    resource: StaticServer,
    tmp_path: Path,
    changes: dict[str, object],
    oidc_only: bool,
    refusal: str | None,
) -> None:
    """OIDC-only metadata is found; a wrong issuer or no S256 stops sign-in before a tab opens."""
    opened: list[str] = []

    async def opener(url: str) -> bool:
        opened.append(url)
        return True

    with static_server() as fake_as:
        issuer = serve_metadata(fake_as, as_server.metadata(), oidc_only=oidc_only, **changes)
        mcp_url = protect(resource, issuer)
        settings = Settings(mcp_url=mcp_url, signin_timeout=2.0).validated()
        provider = OAuthTokenProvider(
            vertexsms_profile(settings), store=TokenStore(tmp_path, MemorySecrets()), opener=opener
        )
        try:
            if refusal is None:
                target = await provider.target()
                assert target.server.issuer == issuer
                assert target.server.token_endpoint == f"{as_server.issuer}/token"
            else:
                with pytest.raises(UpstreamError, match=refusal) as caught:
                    await provider.token(["sms:send"])
                assert "VERTEXSMS_API_TOKEN" in caught.value.message
        finally:
            await provider.aclose()
    assert opened == []
    if oidc_only:
        assert "/.well-known/oauth-authorization-server" in fake_as.hits


@pytest.mark.anyio
async def test_path_issuer_uses_path_inserted_metadata(resource: StaticServer, tmp_path: Path) -> None:
    """An issuer with a path is looked up at /.well-known/oauth-authorization-server/<path>."""
    with static_server() as fake_as:
        issuer = f"{fake_as.url}/tenant"
        fake_as.json(
            "/.well-known/oauth-authorization-server/tenant",
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token",
                "code_challenge_methods_supported": ["S256"],
            },
        )
        provider = make(protect(resource, issuer), tmp_path)
        try:
            assert (await provider.target()).server.issuer == issuer
        finally:
            await provider.aclose()


@pytest.mark.anyio
async def test_login_no_browser_prints_the_url_and_completes(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`login --no-browser` prints the authorization URL once; its redirect without the start URL's
    cookie is refused here (the binding holds), and the same address pasted back signs in."""
    mcp_url = protect(resource, as_server.issuer)
    settings = Settings(mcp_url=mcp_url, signin_timeout=20.0).validated()
    store = TokenStore(tmp_path / "state", FileSecrets(tmp_path / "state" / "secrets.json"))
    provider = OAuthTokenProvider(vertexsms_profile(settings), store=store, open_browser=False)
    out = io.StringIO()
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as inp, os.fdopen(write_end, "w") as terminal:
        job = asyncio.create_task(
            login(vertexsms_profile(settings), no_browser=True, out=out, inp=inp, provider=provider)
        )
        for _ in range(200):
            if "http" in out.getvalue():
                break
            await asyncio.sleep(0.05)
        url = next(line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("http"))
        assert url.startswith(as_server.issuer)  # the authorization URL itself, for a browser anywhere
        monkeypatch.setenv("TEST_BROWSER_REDIRECT", str(tmp_path / "redirect.txt"))
        monkeypatch.setenv("TEST_BROWSER_MODE", "remote")
        visit = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(HERE / "browser.py"), url], timeout=30, check=False
        )
        assert visit.returncode == 0
        address = (tmp_path / "redirect.txt").read_text().strip()
        async with httpx2.AsyncClient() as local_browser:  # the same address, reached on this machine
            refused = await local_browser.get(address)
        assert refused.status_code == 400
        assert "another browser" in refused.text
        assert not job.done()
        terminal.write(address + "\n")
        terminal.flush()
        assert await asyncio.wait_for(job, 30) == 0
    assert "Signed in to VertexSMS" in out.getvalue()
    assert out.getvalue().count(url) == 1
    report = io.StringIO()
    assert await status(vertexsms_profile(settings), as_json=False, out=report, store=store) == 0
    assert "Signed in: yes" in report.getvalue()
    assert "file (" in report.getvalue()


@pytest.mark.anyio
async def test_two_processes_share_one_sign_in(
    as_server: AuthServer, resource: StaticServer, browser: Path, tmp_path: Path
) -> None:
    """Two providers (separate "processes" sharing the state dir) run one browser sign-in between them."""
    mcp_url = protect(resource, as_server.issuer)
    opened: list[str] = []
    providers = []
    for _ in range(2):
        store = TokenStore(tmp_path / "shared", FileSecrets(tmp_path / "shared" / "secrets.json"))
        provider = make(mcp_url, tmp_path, store=store)
        real = provider._opener

        async def counting(url: str, real: object = real) -> bool:
            opened.append(url)
            return await real(url)  # type: ignore[operator]

        provider._opener = counting
        providers.append(provider)
    try:
        tokens = await asyncio.gather(*(p.token(["sms:send"]) for p in providers))
    finally:
        for p in providers:
            await p.aclose()
    assert tokens[0] == tokens[1]
    assert len(opened) == 1
    client_id = as_server.introspect(tokens[0])["client_id"]
    assert len(as_server.journal("grant", grant_type="authorization_code", client_id=client_id)) == 1


@pytest.mark.anyio
async def test_unreachable_resource_is_a_clear_error(tmp_path: Path) -> None:
    """Nothing listening at the MCP URL: a retryable, explained error, not a crash."""
    provider = make("http://127.0.0.1:9/mcp", tmp_path)
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert "127.0.0.1:9" in caught.value.message
