"""Several server processes share one sign-in: one refresh at the AS, every process gets a token."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from oauth_server.filekeyring import FileKeyring
from oauth_server.harness import AuthServer, StaticServer, node_ready, protect
from oauth_server.helpers import make

from vertex_stdio.oauth import TokenStore
from vertex_stdio.oauth.storage.secrets import KeyringSecrets

pytest_plugins = ["oauth_server.fixtures"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]

TESTS = Path(__file__).resolve().parents[2] / "tests" / "support"
CHILDREN = 4


@pytest.mark.anyio
async def test_four_processes_needing_a_refresh_spend_the_refresh_token_once(
    as_server: AuthServer,
    resource: StaticServer,
    browser: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """4 processes with an expired access token at the same instant: exactly 1 refresh, 4 successes."""
    monkeypatch.setenv("TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    state_dir = tmp_path / "shared-state"
    mcp_url = protect(resource, as_server.issuer)
    store = TokenStore(state_dir, KeyringSecrets(FileKeyring()))
    provider = make(mcp_url, tmp_path, store=store)
    try:
        first = await provider.token(["sms:send"])
    finally:
        await provider.aclose()
    client_id = next(iter(store.read_state()["clients"].values()))["client_id"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parents[1] / "src")]),
        "PYTHON_KEYRING_BACKEND": "oauth_server.filekeyring.FileKeyring",
        "CHILD_STATE_DIR": str(state_dir),
        "CHILD_MCP_URL": mcp_url,
        "CHILD_CLOCK_OFFSET": "3600",
        "CHILD_START_AT": str(time.time() + 2.5),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(TESTS / "oauth_server" / "child.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(CHILDREN)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        results.append(out.decode().strip())
        assert first not in err.decode()
    assert all(r.startswith("OK ") for r in results), results
    assert len(set(results)) == 1
    assert results[0] != f"OK {hashlib.sha256(first.encode()).hexdigest()[:12]}"
    refreshes = as_server.journal("grant", grant_type="refresh_token", client_id=client_id)
    assert len(refreshes) == 1
    assert as_server.journal("grant_error", client_id=client_id) == []
    assert first not in (tmp_path / "keyring.json").read_text()
