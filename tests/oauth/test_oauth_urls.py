"""Issue 10: one URL check for everything sign-in fetches or shows, cached metadata included.

Policy cases run ``UrlPolicy`` with an injected resolver (a name that resolves where the test
says); the rest run the real provider against small loopback servers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oauth_server.harness import StaticServer, protect, static_server

from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy, UrlRefused, network_kind
from vertex_stdio.oauth.storage.secrets import MemorySecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytest_plugins = ["oauth_server.fixtures"]

PRM = "/.well-known/oauth-protected-resource/mcp"
ASM = "/.well-known/oauth-authorization-server"


def resolving(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str) -> list[str]:
        return table.get(host, [])

    return resolve


NAMES = {
    "as.example": ["93.184.216.34"],
    "intranet.example": ["10.1.2.3"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "meta.example": ["169.254.169.254"],
    "mcp.corp": ["10.9.9.9"],
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://as.example/token", "plain http"),
        ("javascript:alert(1)", "absolute https"),
        ("file:///etc/passwd", "absolute https"),
        ("https://user:pw@as.example/token", "credentials"),
        ("http://127.0.0.1:9/token", "plain http"),
        ("https://127.0.0.1:9/token", "loopback"),
        ("https://localhost/token", "loopback"),
        ("https://10.0.0.5/token", "private"),
        ("https://intranet.example/token", "private"),
        ("https://rebind.example/token", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[fd00:ec2::254]/latest", "metadata"),
        ("https://meta.example/x", "metadata"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://224.0.0.1/x", "multicast"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
    ],
)
async def test_public_anchor_refuses_unsafe_urls(url: str, why: str) -> None:
    """With a public MCP URL: only https to public addresses passes; the error names the rule."""
    policy = UrlPolicy("https://mcp.example/mcp", resolving({"mcp.example": ["93.184.216.35"], **NAMES}))
    with pytest.raises(UrlRefused) as caught:
        await policy.check("token endpoint", url)
    assert why in caught.value.message


@pytest.mark.anyio
async def test_public_anchor_accepts_public_https_and_unresolvable_names() -> None:
    """Public https passes; a name that does not resolve passes (nothing can be reached through it)."""
    policy = UrlPolicy("https://mcp.example/mcp", resolving({"mcp.example": ["93.184.216.35"], **NAMES}))
    assert await policy.check("token endpoint", "https://as.example/token") == "https://as.example/token"
    assert await policy.check("token endpoint", "https://nowhere.invalid/t") == "https://nowhere.invalid/t"


@pytest.mark.anyio
async def test_anchor_network_widens_only_to_its_own_kind() -> None:
    """An MCP URL on a private network may use that network; metadata addresses stay refused."""
    policy = UrlPolicy("https://mcp.corp/mcp", resolving(NAMES))
    assert await policy.check("token endpoint", "https://intranet.example/t")
    for url in ("https://127.0.0.1/t", "https://169.254.169.254/t", "http://intranet.example/t"):
        with pytest.raises(UrlRefused):
            await policy.check("token endpoint", url)


@pytest.mark.anyio
async def test_loopback_anchor_allows_http_on_loopback_only() -> None:
    """A loopback MCP URL (development, tests) allows http://127.0.0.1 but never http elsewhere."""
    policy = UrlPolicy("http://127.0.0.1:8000/mcp", resolving(NAMES))
    assert await policy.check("token endpoint", "http://127.0.0.1:9/t")
    assert await policy.check("token endpoint", "http://localhost:9/t")
    with pytest.raises(UrlRefused):
        await policy.check("token endpoint", "http://as.example/t")
    with pytest.raises(UrlRefused):
        await policy.check("token endpoint", "https://169.254.169.254/t")


def test_network_kinds() -> None:
    """The address classes the policy reasons about."""
    import ipaddress

    kinds = {
        "8.8.8.8": "public",
        "127.0.0.2": "loopback",
        "::1": "loopback",
        "192.168.1.1": "private",
        "100.64.0.1": "private",
        "169.254.1.1": "link-local",
        "169.254.169.254": "metadata",
        "ff02::1": "multicast",
        "240.0.0.1": "reserved",
    }
    for address, kind in kinds.items():
        assert network_kind(ipaddress.ip_address(address)) == kind, address


def quiet(mcp_url: str, tmp_path: Path, opened: list[str]) -> OAuthTokenProvider:
    async def opener(url: str) -> bool:
        opened.append(url)
        return True

    settings = Settings(mcp_url=mcp_url, signin_timeout=2.0).validated()
    store = TokenStore(tmp_path / "state", MemorySecrets())
    return OAuthTokenProvider(vertexsms_profile(settings), store=store, opener=opener)


def as_metadata(issuer: str, **changes: object) -> dict[str, object]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/reg",
        "code_challenge_methods_supported": ["S256"],
        **changes,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    "header_url",
    ["http://169.254.169.254/latest/meta-data/", "https://10.0.0.7/prm", "http://prm.example/prm"],
)
async def test_resource_metadata_header_url_is_checked_before_it_is_fetched(
    resource: StaticServer, tmp_path: Path, header_url: str
) -> None:
    """A 401's ``resource_metadata`` pointing at metadata, private or plain-http hosts is never fetched."""
    mcp_url = f"{resource.url}/mcp"
    resource.routes["/mcp"] = (401, {"WWW-Authenticate": f'Bearer resource_metadata="{header_url}"'}, b"")
    opened: list[str] = []
    provider = quiet(mcp_url, tmp_path, opened)
    try:
        with pytest.raises(UrlRefused) as caught:
            await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    assert "not used" in caught.value.message
    assert opened == []
    assert resource.hits == ["/mcp"]


@pytest.mark.anyio
async def test_metadata_naming_a_private_token_endpoint_is_refused(
    resource: StaticServer, tmp_path: Path
) -> None:
    """Discovery refuses an authorization server whose endpoints point at the metadata service."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        fake_as.json(ASM, as_metadata(fake_as.url, token_endpoint="http://169.254.169.254/token"))
        opened: list[str] = []
        provider = quiet(mcp_url, tmp_path, opened)
        try:
            with pytest.raises(UpstreamError):
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
    assert opened == []


@pytest.mark.anyio
async def test_parent_resource_is_refused(resource: StaticServer, tmp_path: Path) -> None:
    """RFC 9728 ``resource`` must be the MCP URL itself: a parent would widen the token's audience."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        resource.json(PRM, {"resource": resource.url + "/", "authorization_servers": [fake_as.url]})
        fake_as.json(ASM, as_metadata(fake_as.url))
        opened: list[str] = []
        provider = quiet(mcp_url, tmp_path, opened)
        try:
            with pytest.raises(UpstreamError) as caught:
                await provider.token(["sms:send"])
        finally:
            await provider.aclose()
    assert "describes" in caught.value.message
    assert opened == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "tamper",
    [
        {"token_endpoint": "http://evil.example/token"},
        {"authorization_endpoint": "javascript:alert(document.cookie)"},
        {"revocation_endpoint": "https://169.254.169.254/revoke"},
        {"registration_endpoint": 7},
    ],
)
async def test_tampered_cached_metadata_is_dropped_and_rediscovered(
    resource: StaticServer, tmp_path: Path, tamper: dict[str, object]
) -> None:
    """An edited metadata cache in the state file gets the fresh checks; failing, it is discovered again."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        fake_as.json(ASM, as_metadata(fake_as.url))
        opened: list[str] = []
        provider = quiet(mcp_url, tmp_path, opened)
        try:
            first = await provider.target()
            state_file = tmp_path / "state" / "auth.json"
            state = json.loads(state_file.read_text())
            state["metadata"][mcp_url]["server"].update(tamper)
            state_file.write_text(json.dumps(state))
            hits_before = len(fake_as.hits)
            again = await provider.target()
        finally:
            await provider.aclose()
    assert again == first
    assert len(fake_as.hits) > hits_before  # discovered again instead of trusting the edit
    cached = json.loads(state_file.read_text())["metadata"][mcp_url]["server"]
    assert cached == first.server.to_json()


@pytest.mark.anyio
async def test_cached_metadata_for_another_resource_is_dropped(
    resource: StaticServer, tmp_path: Path
) -> None:
    """A cache entry whose resource is neither the MCP URL nor its origin (RFC 9728 §3.3) is not used."""
    with static_server() as fake_as:
        mcp_url = protect(resource, fake_as.url)
        fake_as.json(ASM, as_metadata(fake_as.url))
        provider = quiet(mcp_url, tmp_path, [])
        try:
            first = await provider.target()
            state_file = tmp_path / "state" / "auth.json"
            state = json.loads(state_file.read_text())
            state["metadata"][mcp_url]["resource"] = f"{resource.url}/elsewhere"
            state_file.write_text(json.dumps(state))
            again = await provider.target()
        finally:
            await provider.aclose()
    assert again.resource == first.resource == mcp_url
