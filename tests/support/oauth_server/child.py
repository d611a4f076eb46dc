"""One "server process" for the multi-process tests: asks for a token at a given instant.

Environment: CHILD_STATE_DIR, CHILD_MCP_URL, CHILD_START_AT (Unix time), CHILD_CLOCK_OFFSET (s),
plus PYTHON_KEYRING_BACKEND / TEST_KEYRING_FILE for the shared file keyring.  Optional:
CHILD_OPEN_BROWSER=1 (open $BROWSER like the product; default: no browser), CHILD_SIGNIN_TIMEOUT
(s, default 3), CHILD_DEFAULT_STORE=1 (``TokenStore.default``: the product's choice of store),
CHILD_CALLS (token requests in a row, default 1; the last one is printed), CHILD_SEALED=1 (the
keyring holds only the key of an AES-GCM sealed file in the state directory).
Prints one line: ``OK <sha256 prefix of the token>`` or ``ERR <code>``; never the token itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path

from vertex_stdio.core.errors import VertexError
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import KeyringSecrets
from vertex_stdio.oauth.storage.store import SEALED_FILE
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.signin import vertexsms_profile


async def no_browser(url: str) -> bool:
    return False


async def main() -> int:
    offset = float(os.environ.get("CHILD_CLOCK_OFFSET", "0"))
    timeout = float(os.environ.get("CHILD_SIGNIN_TIMEOUT", "3"))
    settings = Settings(
        mcp_url=os.environ["CHILD_MCP_URL"],
        signin_timeout=timeout,
        allow_file_store=os.environ.get("VERTEXSMS_ALLOW_FILE_STORE") == "1",
    ).validated()
    state_dir = Path(os.environ["CHILD_STATE_DIR"])
    if os.environ.get("CHILD_DEFAULT_STORE") == "1":
        store = TokenStore.default(vertexsms_profile(settings), state_dir)
    elif os.environ.get("CHILD_SEALED") == "1":
        store = TokenStore(state_dir, SealedSecrets(state_dir / SEALED_FILE, KeyringSecrets()))
    else:
        store = TokenStore(state_dir, KeyringSecrets())
    opener = None if os.environ.get("CHILD_OPEN_BROWSER") == "1" else no_browser
    provider = OAuthTokenProvider(
        vertexsms_profile(settings), store=store, opener=opener, clock=lambda: time.time() + offset
    )
    await asyncio.sleep(max(0.0, float(os.environ.get("CHILD_START_AT", "0")) - time.time()))
    try:
        for _ in range(int(os.environ.get("CHILD_CALLS", "1"))):
            token = await provider.token(["sms:send"])
    except VertexError as exc:
        sys.stdout.write(f"ERR {exc.code}\n")
        return 1
    finally:
        await provider.aclose()
    sys.stdout.write(f"OK {hashlib.sha256(token.encode()).hexdigest()[:12]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
