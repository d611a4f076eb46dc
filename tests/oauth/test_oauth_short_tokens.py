"""Issue 10: 8-second access tokens from the real authorization server do not cost a refresh per call.

The leeway before expiry is a tenth of a short token's life (not a fixed 60 s), so calls in a
row reuse the token, and processes that find it expired spend one refresh between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oauth_server.filekeyring import FileKeyring
from oauth_server.harness import AuthServer, StaticServer, auth_server, node_ready, protect
from oauth_server.helpers import figure, make, run_children

from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.storage.secrets import KeyringSecrets

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"
TTL = 8


@pytest.fixture
def short_as(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path, AS_AT_TTL=str(TTL)) as server:
        yield server


@pytest.mark.anyio
async def test_eight_second_tokens_refresh_once_not_per_call(
    short_as: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3 calls in a row after sign-in: 0 refreshes; 4 processes x 3 calls once it expired: 1 refresh."""
    monkeypatch.setenv("TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    state_dir = tmp_path / "shared-state"
    mcp_url = protect(resource, short_as.issuer)
    store = TokenStore(state_dir, KeyringSecrets(FileKeyring()))
    provider = make(mcp_url, tmp_path, store=store)
    try:
        first = await provider.token(["sms:send"])
        again = [await provider.token(["sms:send"]) for _ in range(3)]
    finally:
        await provider.aclose()
    client_id = next(iter(store.read_state()["clients"].values()))["client_id"]
    in_process = len(short_as.journal("grant", grant_type="refresh_token", client_id=client_id))
    assert again == [first] * 3
    assert in_process == 0

    # every child sees the first token expired, and asks for a token three times
    results = run_children(4, state_dir, mcp_url, CHILD_CLOCK_OFFSET=str(TTL), CHILD_CALLS="3")
    refreshes = len(short_as.journal("grant", grant_type="refresh_token", client_id=client_id))
    figure(f"8 s tokens: 3 calls in a row -> {in_process} refreshes; 4 processes x 3 calls -> {refreshes}")
    assert all(r.startswith("OK ") for r in results), results
    assert len(set(results)) == 1
    assert refreshes == 1
