"""One "server process" for the multi-process refresh test: asks for a token at a given instant.

Environment: CHILD_STATE_DIR, CHILD_MCP_URL, CHILD_START_AT (Unix time), CHILD_CLOCK_OFFSET (s),
plus PYTHON_KEYRING_BACKEND / TEST_KEYRING_FILE for the shared file keyring.  Prints one line:
``OK <sha256 prefix of the token>`` or ``ERR <code>``; never the token itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path

from vertex_stdio.config import Settings
from vertex_stdio.errors import VertexError
from vertex_stdio.oauth import OAuthTokenProvider, TokenStore
from vertex_stdio.oauth.secrets import KeyringSecrets


async def no_browser(url: str) -> bool:
    return False


async def main() -> int:
    offset = float(os.environ.get("CHILD_CLOCK_OFFSET", "0"))
    store = TokenStore(Path(os.environ["CHILD_STATE_DIR"]), KeyringSecrets())
    settings = Settings(mcp_url=os.environ["CHILD_MCP_URL"], signin_timeout=3.0).validated()
    provider = OAuthTokenProvider(
        settings, store=store, opener=no_browser, clock=lambda: time.time() + offset
    )
    await asyncio.sleep(max(0.0, float(os.environ["CHILD_START_AT"]) - time.time()))
    try:
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
