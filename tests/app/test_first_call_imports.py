"""A kept sign-in's first call loads no sign-in flow, and the opt-in file store no keyring (issue 22).

``serve`` signed in with ``login --token`` and ``connect`` signed in since yesterday answer their
first call before the SDK is loaded; the process is CPU-bound then, so every import it does not
need is time the person waits.  Each check runs, in a fresh interpreter, what the early path runs
(``Warm``, ``earlyconnect``'s warming, the token provider and its first token) against a sign-in
kept as the product keeps it, checks the token came back, and lists what was imported.  The
flows (browser, loopback receiver, device grant...) load only when a sign-in runs, and
``keyring`` (~14 ms with its ``importlib_metadata``) only where a keyring is asked: never at
start-up, never for a token in the 0600 file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest

from bridge import process_env
from vertex_stdio.bridge.servers import RemoteServer, remember
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import ServerMetadata
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.store import PLAIN_FILE, SessionKey, TokenStore
from vertex_stdio.vertexsms.apitoken import keep

pytestmark = pytest.mark.slow  # each check runs in a fresh interpreter

SUPPORT = Path(__file__).resolve().parents[1] / "support"
TOKEN = "vx-kept-8d1c5b3e7a90f2"
FLOWS = (
    "vertex_stdio.oauth.device",
    "vertex_stdio.oauth.signin",
    "vertex_stdio.oauth.paste",
    "vertex_stdio.oauth.waiting",
    "vertex_stdio.oauth.machine",
    "vertex_stdio.oauth.io.browser",
    "vertex_stdio.oauth.io.receiver",
    "vertex_stdio.oauth.io.listener",
    "webbrowser",
)
"""What only a sign-in that runs (a person's, or an unattended grant) needs."""
KEPT_TOKEN_NEEDS_NONE_OF = (
    *FLOWS,
    "vertex_stdio.oauth.provider",
    "vertex_stdio.oauth.discovery",
    "vertex_stdio.oauth.storage.anywhere",  # logout's look at every store
)
"""A token ``login --token`` kept is read from the store: no OAuth at all."""


def _run(code: str, env: dict[str, str]) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; the JSON object it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


SERVE_EARLY = """
    import json, os, sys, threading
    import anyio
    from vertex_stdio.app.earlyserve import Warm
    from vertex_stdio.app.serving import token_provider
    from vertex_stdio.vertexsms.settings import Settings

    watched = __WATCHED__
    settings = Settings.from_env(os.environ).validated()
    warm = Warm.started(settings, None)
    assert warm is not None and warm.on(), "the early path is off: no kept sign-in was found"
    for thread in threading.enumerate():  # what the first call imports, imported by then
        if thread.name == "vertex-stdio-warm":
            thread.join(30)
    at_start = [name for name in watched if name in sys.modules]
    tokens = token_provider(settings)
    token = anyio.run(tokens.token, ())
    print(json.dumps({"start": at_start, "call": [n for n in watched if n in sys.modules], "ok": token == __TOKEN__}))
"""


def _serve_early(env: dict[str, str], watched: tuple[str, ...]) -> dict[str, object]:
    code = SERVE_EARLY.replace("__WATCHED__", repr(watched)).replace("__TOKEN__", repr(TOKEN))
    return _run(code, env)


def test_a_token_kept_in_the_private_file_loads_neither_oauth_nor_the_keyring(tmp_path: Path) -> None:
    """``login --token --allow-file-store``'s token (the benchmark's): ``serve`` finds it and
    reads it at the first call from the file, importing no keyring and no OAuth module."""
    state = tmp_path / "state" / "vertex-stdio"
    anyio.run(keep, TokenStore(state, FileSecrets(state / PLAIN_FILE)), TOKEN)
    env = process_env(tmp_path, VERTEXSMS_ALLOW_FILE_STORE="1", VERTEXSMS_MCP_URL="http://127.0.0.1:9/mcp")
    sealed = "vertex_stdio.oauth.storage.sealed"  # the keyring's store: its key is in the keyring
    seen = _serve_early(env, ("keyring", sealed, *KEPT_TOKEN_NEEDS_NONE_OF))
    assert seen == {"start": [], "call": [], "ok": True}


def test_a_token_kept_in_the_keyring_loads_it_at_the_first_call_only(tmp_path: Path) -> None:
    """The same token kept as on a desktop (sealed, its key in a keyring that passes for the OS
    one): ``keyring`` is imported at the first call, which reads it, never at start-up."""
    env = process_env(
        tmp_path,
        PYTHON_KEYRING_BACKEND="os_keyring.FileOsKeyring",
        TEST_KEYRING_FILE=str(tmp_path / "keyring.json"),
        PYTHONPATH=str(SUPPORT),
        VERTEXSMS_MCP_URL="http://127.0.0.1:9/mcp",
    )
    keeping = """
        import anyio, json, os
        from vertex_stdio.vertexsms.apitoken import keep, store_for
        from vertex_stdio.vertexsms.settings import Settings

        store = store_for(Settings.from_env(os.environ).validated())
        print(json.dumps({"label": anyio.run(keep, store, __TOKEN__)}))
    """
    assert "keyring" in str(_run(keeping.replace("__TOKEN__", repr(TOKEN)), env)["label"])
    seen = _serve_early(env, ("keyring", *KEPT_TOKEN_NEEDS_NONE_OF))
    assert seen == {"start": [], "call": ["keyring"], "ok": True}


CONNECT_EARLY = """
    import json, sys
    import anyio
    from vertex_stdio.app import earlyconnect
    from vertex_stdio.app.arguments import build_parser
    from vertex_stdio.app.connectoptions import client_auth, machine_from, token_provider
    from vertex_stdio.app.setting_options import settings_from
    from vertex_stdio.bridge.servers import resolve

    args = build_parser().parse_args(["connect", __URL__, "--name", "bench", "--client-id", "bench-client"])
    settings = settings_from(args)
    earlyconnect._warm(False)  # what the warming thread imports while the front answers
    at_start = [name for name in __WATCHED__ if name in sys.modules]
    chosen = earlyconnect.connect_settings(settings)
    tokens = token_provider(resolve(args.url, args.name), chosen, args, None, machine_from(args, None, client_auth(args)))
    token = anyio.run(tokens.silent_token)  # what the first call's bearer asks
    print(json.dumps({"start": at_start, "call": [n for n in __WATCHED__ if n in sys.modules], "ok": token == __TOKEN__}))
"""


def test_connects_cached_sign_in_loads_no_sign_in_flow(tmp_path: Path) -> None:
    """``connect URL`` signed in since yesterday (its discovery cached, the session in the private
    file, as the benchmark seeds it): the warming and the first call's token load the provider and
    its silent refresh, never a flow.  (The keyring is asked which store holds the sign-in.)"""
    url = "http://127.0.0.1:9/mcp"  # nothing answers there: the token must come from the store
    state = tmp_path / "state" / "vertex-stdio"
    remote = RemoteServer(url, "bench")
    remember(remote, state)
    folder = remote.state_dir(state)
    store = TokenStore(folder, FileSecrets(folder / PLAIN_FILE))
    server = ServerMetadata(url, f"{url}/authorize", f"{url}/token")
    entry = {"resource": url, "resource_scopes": [], "server": server.to_json(), "fetched_at": time.time()}

    async def seed() -> None:
        await store.update_state(lambda data: data.setdefault("metadata", {}).__setitem__(url, entry))
        await store.save(SessionKey(url, url, "bench-client"), Tokens(TOKEN, None, time.time() + 86400, ()))

    anyio.run(seed)
    env = process_env(tmp_path, VERTEXSMS_ALLOW_FILE_STORE="1")
    code = (
        CONNECT_EARLY.replace("__WATCHED__", repr(FLOWS))
        .replace("__URL__", repr(url))
        .replace("__TOKEN__", repr(TOKEN))
    )
    assert _run(code, env) == {"start": [], "call": [], "ok": True}
