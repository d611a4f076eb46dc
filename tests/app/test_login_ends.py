"""``login`` runs its waits in task groups: however it ends (a refused answer, or cancelled as by
Ctrl-C), no task of it is left behind and its redirect port is closed.

The authorization server is a loopback fake that only publishes metadata: nobody signs in here,
so the sign-in ends only as each test makes it end.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from oauth_server.harness import StaticServer, protect, static_server

from vertex_stdio.app.signin import login
from vertex_stdio.core.errors import EXIT_FIXABLE
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[StaticServer]:
    """The protected resource and its authorization server's metadata, on one loopback server."""
    with static_server() as server:
        issuer = server.url
        server.json(
            "/.well-known/oauth-authorization-server",
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token",
                "code_challenge_methods_supported": ["S256"],
                "response_types_supported": ["code"],
            },
        )
        yield server


def provider_for(server: StaticServer, tmp_path: Path) -> OAuthTokenProvider:
    settings = Settings(mcp_url=protect(server, server.url), client_id="pre-registered").validated()
    store = TokenStore(tmp_path / "state", FileSecrets(tmp_path / "state" / "secrets.json"))
    return OAuthTokenProvider(vertexsms_profile(settings), store=store, open_browser=False)


async def printed_link(out: io.StringIO) -> str:
    """The authorization link ``login`` printed (it prints it once the receiver listens)."""
    with anyio.fail_after(20):
        while "http" not in out.getvalue():
            await anyio.sleep(0.02)
    return next(w for w in out.getvalue().split() if w.startswith(f"{'http'}") and "/auth?" in w)


def redirect_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["redirect_uri"][0]


def port_open(redirect: str) -> bool:
    try:
        socket.create_connection(("127.0.0.1", urlsplit(redirect).port or 0), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def tasks_besides_this() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_a_refused_pasted_answer_ends_login_with_no_task_left_and_its_port_closed(
    server: StaticServer, tmp_path: Path
) -> None:
    """``login --no-browser``: the pasted address says the person declined; login says so, exits 1."""
    before = tasks_besides_this()
    out = io.StringIO()
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as inp, os.fdopen(write_end, "w") as terminal:
        async with anyio.create_task_group() as run:
            codes: list[int] = []

            async def command() -> None:
                provider = provider_for(server, tmp_path)
                codes.append(
                    await login(provider.profile, no_browser=True, out=out, inp=inp, provider=provider)
                )

            run.start_soon(command)
            link = await printed_link(out)
            redirect = redirect_of(link)
            assert port_open(redirect)
            state = parse_qs(urlsplit(link).query)["state"][0]
            terminal.write(f"{redirect}?error=access_denied&state={state}\n")
            terminal.flush()
        assert codes == [EXIT_FIXABLE]
    assert "Not signed in:" in out.getvalue()
    assert "Checking the answer…" in out.getvalue()
    assert "Not signed in: Sign-in was declined in the browser" in out.getvalue()
    assert not port_open(redirect)
    assert tasks_besides_this() == before


@pytest.mark.parametrize("no_browser", [False, True])
async def test_cancelling_login_leaves_no_task_and_closes_its_port(
    server: StaticServer, tmp_path: Path, no_browser: bool
) -> None:
    """Cancelled while it waits for the browser (or for a pasted address): nothing of it runs on."""
    before = tasks_besides_this()
    out = io.StringIO()
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as inp, os.fdopen(write_end, "w"):
        async with anyio.create_task_group() as run:
            provider = provider_for(server, tmp_path)
            run.start_soon(
                lambda: login(provider.profile, no_browser=no_browser, out=out, inp=inp, provider=provider)
            )
            redirect = redirect_of(await printed_link(out)) if no_browser else ""
            if not no_browser:
                with anyio.fail_after(20):
                    while provider.flow is None:
                        await anyio.sleep(0.02)
                redirect = redirect_of(provider.flow.authorization_url)  # type: ignore[union-attr]
            assert port_open(redirect)
            run.cancel_scope.cancel()
    assert not port_open(redirect)
    assert tasks_besides_this() == before
    assert "Signed in" not in out.getvalue()
