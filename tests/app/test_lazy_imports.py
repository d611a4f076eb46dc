"""Start-up imports only what serving needs: heavy optional modules stay unimported until used.

Each check runs in a fresh interpreter, since this test process has imported everything.
Not a timing test: it guards the import graph, which is what start-up time follows.
starlette and uvicorn are not checked: ``import mcp`` itself pulls them in (mcp 2.3).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each check runs in a fresh interpreter

# Needed only by sign-in, the sandbox or the desktop commands, never by serving a pasted token.
OPTIONAL = (
    "authlib",
    "keyring",
    "vertex_stdio.oauth",
    "vertex_stdio.vertexsms.sandbox",
    "vertex_stdio.desktop",
    "tomlkit",  # setup codex only
)


def _imported_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps([n for n in {names!r} if n in sys.modules]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_serving_a_pasted_token_imports_no_optional_module() -> None:
    """Building the server for a pasted token (what ``serve`` does) leaves OAuth, keyring and the sandbox out."""
    code = """
        from vertex_stdio.app.serving import token_provider
        from vertex_stdio.vertexsms.settings import Settings
        from vertex_stdio.vertexsms.server import build_server

        settings = Settings(api_token="lazy-import-test-token").validated()
        build_server(settings, token_provider(settings))
    """
    assert _imported_after(code, OPTIONAL) == []


def test_the_command_line_parser_imports_neither_the_sdk_nor_http() -> None:
    """``vertex-stdio --version`` and the argument parser do not pay for mcp, httpx2 or pydantic."""
    code = """
        import vertex_stdio.app.cli
        from vertex_stdio.app.arguments import build_parser

        build_parser()
    """
    heavy = ("mcp", "httpx2", "pydantic", "anyio", *OPTIONAL)
    assert _imported_after(code, heavy) == []


def test_building_the_server_loads_no_trust_store() -> None:
    """The TLS trust store (~90 ms) is loaded on the first call, not at start-up: building the
    clients (0.2 ms) leaves it unloaded."""
    code = """
        import anyio
        from vertex_stdio.vertexsms.settings import Settings
        from vertex_stdio.core.credentials import StaticTokenProvider
        from vertex_stdio.core.http import _tls_context
        from vertex_stdio.vertexsms.server import make_lifespan

        async def main():
            settings = Settings(api_token="lazy-import-test-token").validated()
            async with make_lifespan(settings, StaticTokenProvider("t"))(None):
                assert _tls_context.cache_info().currsize == 0, "a trust store was loaded at start-up"

        anyio.run(main)
    """
    assert _imported_after(code, ()) == []


def test_the_lean_front_answers_with_neither_the_sdk_nor_pydantic_nor_http() -> None:
    """What runs before the first answer (the command line, settings, the front and its manifest)
    imports no SDK, pydantic, httpx2 or keyring: those load on the worker thread meanwhile."""
    code = """
        import vertex_stdio.app.cli
        from vertex_stdio.app.serving import lean_manifest
        from vertex_stdio.mcpio import lean, pipes
        from vertex_stdio.vertexsms.settings import Settings

        assert lean_manifest(Settings()) is not None
        assert lean_manifest(Settings(sandbox=True)) is not None
    """
    heavy = ("mcp", "mcp_types", "httpx2", "pydantic", *OPTIONAL)
    assert _imported_after(code, heavy) == []


def test_serving_loads_neither_rich_nor_sqlite_before_they_are_used() -> None:
    """With our logging in place the SDK's own set-up (rich, ~1.4 MB) is skipped, and SQLite
    (~0.9 MB) loads with the journal's store, at the first call that records a send."""
    code = """
        from vertex_stdio.core import logs
        from vertex_stdio.app.serving import token_provider
        from vertex_stdio.vertexsms.settings import Settings
        from vertex_stdio.vertexsms.server import build_server

        logs.configure("INFO", to_file=False)
        settings = Settings(api_token="lazy-import-test-token").validated()
        build_server(settings, token_provider(settings))
    """
    assert _imported_after(code, ("rich", "sqlite3")) == []
