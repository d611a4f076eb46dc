"""Third-party MCP servers from npm (``tests/support/third_party``, pinned), run on 127.0.0.1.

``loopback.mjs`` is preloaded into each: whatever address the server asks for it listens on
127.0.0.1, reports every port it got on stderr, and exits when the test that started it is gone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oauth_server.harness import stop

HERE = Path(__file__).parent / "third_party"
MODULES = HERE / "node_modules" / "@modelcontextprotocol"
EVERYTHING = MODULES / "server-everything" / "dist" / "index.js"
SDK_EXAMPLES = MODULES / "sdk" / "dist" / "esm" / "examples" / "server"
SDK_EXAMPLE = SDK_EXAMPLES / "simpleStreamableHttp.js"


def third_party_ready() -> str | None:
    """Why the servers cannot run here, or None.  Under CI (``CI`` set) that is an error."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (EVERYTHING.is_file() and SDK_EXAMPLE.is_file()):
        problem = "run `npm ci --prefix tests/support/third_party` first"
    if problem and os.environ.get("CI"):
        raise RuntimeError(f"the third-party MCP servers cannot run: {problem}")
    return problem


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def node_server(
    script: Path, args: list[str], env: dict[str, str], log: Path, listens: int
) -> Iterator[list[int]]:
    """``node SCRIPT ARGS`` until it listens on ``listens`` ports (bounded: 30 s); yields them."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                shutil.which("node") or "node",
                "--import",
                (HERE / "loopback.mjs").as_uri(),
                str(script),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(log.parent), **env},
        )
    try:
        deadline = time.monotonic() + 30
        ports: list[int] = []
        while len(ports) < listens:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
            lines = log.read_text(errors="replace").splitlines()
            ports = [int(line.split()[1]) for line in lines if line.startswith("LISTENING ")]
        yield ports
    finally:
        stop(proc)


@contextmanager
def everything_server(tmp: Path, transport: str = "streamableHttp") -> Iterator[str]:
    """``@modelcontextprotocol/server-everything`` over Streamable HTTP (or ``sse``, the 2024-11-05
    HTTP+SSE transport); yields its URL."""
    path = "sse" if transport == "sse" else "mcp"
    with node_server(EVERYTHING, [transport], {"PORT": "0"}, tmp / f"everything-{path}.log", 1) as ports:
        yield f"http://127.0.0.1:{ports[0]}/{path}"


@contextmanager
def sdk_oauth_server(tmp: Path, *, strict: bool = True) -> Iterator[str]:
    """The TypeScript SDK's ``simpleStreamableHttp`` example with ``--oauth`` (its demo
    authorization server on a second port, consent without a page); yields its MCP URL, which
    names ``localhost`` as the example does."""
    mcp, auth = free_port(), free_port()
    env = {"MCP_PORT": str(mcp), "MCP_AUTH_PORT": str(auth)}
    flags = ["--oauth", "--oauth-strict"] if strict else ["--oauth"]
    with node_server(SDK_EXAMPLE, flags, env, tmp / "sdk-example.log", 2):
        yield f"http://localhost:{mcp}/mcp"


@contextmanager
def sdk_example(tmp: Path, name: str) -> Iterator[str]:
    """One of the TypeScript SDK's example servers without OAuth (``name``: its file's stem), on a
    port of the system's choosing (the examples hard-code theirs); yields its MCP URL."""
    env = {"LOOPBACK_ANY_PORT": "1"}
    with node_server(SDK_EXAMPLES / f"{name}.js", [], env, tmp / f"{name}.log", 1) as ports:
        yield f"http://127.0.0.1:{ports[0]}/mcp"
