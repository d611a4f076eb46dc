"""4. Token work: what the token provider does per call while its token is valid, and on expiry.

Runs the bridge in this process (the SDK's in-memory client), because the counts need seams
a spawned process does not offer: a counting secret store (the keyring's stand-in), a fake
authorization server on an injected transport (counting refresh grants) and a clock we can
move.  REST calls still go to the fixed-delay upstream over loopback.  Uses
``OAuthTokenProvider`` when ``vertex_stdio.oauth`` imports; otherwise a counting wrapper around
the pasted-token provider, and the expiry rows are skipped.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx2
from harness import Plan
from stats import Figure, Report, Target

from vertex_stdio.core.credentials import Challenge, SignInPrompt, StaticTokenProvider, TokenProvider
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings

MCP = "https://mcp.bench.test/mcp"
ISSUER = "https://as.bench.test"
SECTION = "4. Token work (in-process bridge; counts per tool call)"
VALID_CALLS = 100


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Counts:
    def __init__(self) -> None:
        self.refreshes = self.reads = self.writes = self.token_calls = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


class CountingProvider:
    """Wraps any provider to count ``token()`` calls (the fallback when OAuth is unavailable)."""

    def __init__(self, inner: TokenProvider, counts: Counts) -> None:
        self._inner, self._counts = inner, counts

    @property
    def source(self) -> str:
        return self._inner.source

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        self._counts.token_calls += 1
        return await self._inner.token(scopes, prompt)

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        return await self._inner.rejected(token, challenge)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _fake_authorization_server(counts: Counts) -> httpx2.MockTransport:
    """Resource metadata, AS metadata and a token endpoint that counts refresh grants."""
    issued = 0

    def handle(request: httpx2.Request) -> httpx2.Response:
        nonlocal issued
        path = request.url.path
        if path == "/.well-known/oauth-protected-resource/mcp":
            return httpx2.Response(200, json={"resource": MCP, "authorization_servers": [ISSUER]})
        if path == "/.well-known/oauth-authorization-server":
            return httpx2.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if path == "/token" and b"grant_type=refresh_token" in request.content:
            counts.refreshes += 1
            issued += 1
            return httpx2.Response(
                200,
                json={
                    "access_token": f"AT-bench-{issued:04d}",
                    "refresh_token": f"RT-bench-{issued:04d}",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            )
        return httpx2.Response(401 if path == "/mcp" else 404)

    return httpx2.MockTransport(handle)


async def _oauth_provider(settings: Settings, state_dir: Path, counts: Counts, clock: Clock) -> Any:
    """An ``OAuthTokenProvider`` signed in earlier (seeded store), with every seam counted."""
    from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
    from vertex_stdio.oauth.protocol.core import Tokens
    from vertex_stdio.oauth.storage.secrets import MemorySecrets
    from vertex_stdio.oauth.storage.store import SessionKey
    from vertex_stdio.vertexsms.signin import vertexsms_profile

    class CountingSecrets(MemorySecrets):
        def get(self, account: str) -> str | None:
            counts.reads += 1
            return super().get(account)

        def set(self, account: str, secret: str) -> None:
            counts.writes += 1
            super().set(account, secret)

    store = TokenStore(state_dir, CountingSecrets())
    key = SessionKey(ISSUER, MCP, "bench-client")
    await store.update_state(
        lambda d: d.setdefault("clients", {}).__setitem__(
            ISSUER, {"client_id": "bench-client", "issuer": ISSUER}
        )
    )
    scopes = ("sms:send", "sms:rates", "numbers:read", "hlr:lookup", "sender:write")
    await store.save(key, Tokens("AT-bench-seed", "RT-bench-seed", clock() + 3600, scopes))

    async def no_browser(url: str) -> bool:
        return False

    return OAuthTokenProvider(
        vertexsms_profile(settings),
        store=store,
        transport=_fake_authorization_server(counts),
        opener=no_browser,
        clock=clock,
    )


async def measure_tokens(report: Report, plan: Plan, upstream_url: str) -> None:
    """Section 4."""
    from mcp import Client

    # The bridge runs in this process: keep its logs off the table.
    for noisy in ("httpx2", "httpcore2", "mcp", "vertex_stdio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    settings = Settings(api_url=upstream_url, mcp_url=MCP, signin_timeout=5.0).validated()
    counts, clock = Counts(), Clock()
    with tempfile.TemporaryDirectory(prefix="vertex-bench-oauth-") as state_dir:
        try:
            provider = await _oauth_provider(settings, Path(state_dir), counts, clock)
        except ImportError:
            provider = None
        tokens: TokenProvider = CountingProvider(provider or StaticTokenProvider("bench-token"), counts)
        server = build_server(settings, tokens)
        args = {"operatorId": 1101}

        async def call() -> None:
            result = await client.call_tool("get_operator", args)
            if result.is_error:
                raise RuntimeError(f"get_operator failed: {result.content}")

        async with Client(server, mode="legacy") as client:
            for _ in range(5):  # the first call adopts the stored sign-in (one read): warm-up
                await call()
            counts.reset()
            for _ in range(VALID_CALLS):
                await call()
            async with anyio.create_task_group() as tg:
                for _ in range(plan.refresh_callers):
                    tg.start_soon(call)
            valid_calls = VALID_CALLS + plan.refresh_callers
            _report_valid(report, counts, valid_calls, oauth=provider is not None)
            if provider is None:
                _skip_expiry(report)
                return
            refreshes, reads = [], []
            for _ in range(max(1, plan.bursts - 2)):
                clock.now += 7200  # every token in memory and in the store is now expired
                counts.reset()
                async with anyio.create_task_group() as tg:
                    for _ in range(plan.refresh_callers):
                        tg.start_soon(call)
                refreshes.append(float(counts.refreshes))
                reads.append(float(counts.reads))
            await tokens.aclose()
    n = plan.refresh_callers
    report.add(SECTION, Figure(f"refreshes when {n} calls meet an expired token", "n", refreshes))
    report.add(SECTION, Figure(f"store (keyring) reads for those {n} calls", "n", reads))
    report.targets.append(
        Target(f"one refresh for {n} calls on an expired token", max(refreshes), 1.0, "n", "most in any run")
    )


def _report_valid(report: Report, counts: Counts, calls: int, *, oauth: bool) -> None:
    kind = "OAuthTokenProvider" if oauth else "pasted token: oauth not available"
    report.add(
        SECTION, Figure("token() calls per tool call (valid token)", "n", [counts.token_calls / calls], kind)
    )
    report.add(SECTION, Figure("refreshes per tool call (valid token)", "n", [counts.refreshes / calls]))
    report.add(SECTION, Figure("keyring reads per tool call (valid token)", "n", [counts.reads / calls]))
    work = (counts.refreshes + counts.reads + counts.writes) / calls
    report.targets.append(
        Target("zero token work per call while valid", work, 0.0, "n", "refreshes+reads+writes")
    )


def _skip_expiry(report: Report) -> None:
    report.add(
        SECTION,
        Figure("refreshes when 50 calls meet an expired token", "n", [], "skipped: oauth not available"),
    )
    report.targets.append(
        Target(
            "one refresh for 50 calls on an expired token",
            None,
            1.0,
            "n",
            skipped="skipped: oauth not available",
        )
    )
