"""Offline: the real server process starts, lists tools and serves the sandbox with no network.

The child process gets a ``sitecustomize.py`` that refuses, and records in a file, every attempt
to resolve or connect to a non-loopback host; the test reads that record.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

pytestmark = pytest.mark.anyio

GUARD = textwrap.dedent(
    '''
    """Test guard: refuse and record any non-loopback name lookup or connection."""
    import ipaddress
    import os
    import socket
    import sys

    # uvloop resolves names in C, past socket.getaddrinfo: keep the child on asyncio's own loop
    sys.modules["uvloop"] = None

    _RECORD = os.environ["NETWORK_GUARD_FILE"]
    _LOCAL = {None, "", "localhost", "localhost.", b"localhost"}


    def _loopback(host):
        if isinstance(host, bytes):
            host = host.decode()
        if host in _LOCAL:
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False


    def _refuse(kind, host):
        with open(_RECORD, "a", encoding="utf-8") as record:
            record.write(f"{kind} {host}\\n")


    _getaddrinfo = socket.getaddrinfo
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex


    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            _refuse("resolve", host)
            raise socket.gaierror(socket.EAI_NONAME, "network disabled by the test")
        return _getaddrinfo(host, *args, **kwargs)


    def connect(self, address):
        if isinstance(address, tuple) and not _loopback(address[0]):
            _refuse("connect", address[0])
            raise ConnectionRefusedError(111, "network disabled by the test")
        return _connect(self, address)


    def connect_ex(self, address):
        if isinstance(address, tuple) and not _loopback(address[0]):
            _refuse("connect", address[0])
            return 111
        return _connect_ex(self, address)


    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    '''
)


def _params(tmp_path: Path, **extra: str) -> tuple[StdioServerParameters, Path]:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    record = tmp_path / "network.log"
    record.touch()
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(guard_dir),
        "NETWORK_GUARD_FILE": str(record),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VERTEXSMS_LOG_DIR": str(tmp_path / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "VERTEXSMS_HTTP_TIMEOUT": "5",
    } | extra
    return StdioServerParameters(command=sys.executable, args=["-m", "vertex_stdio"], env=env), record


def _error_code(texts: list[str]) -> str:
    return str(json.loads(texts[0])["error"]["code"])


@pytest.mark.slow
async def test_real_mode_offline(tmp_path: Path) -> None:
    """Start-up and tools/list touch no network; a real call fails fast with UPSTREAM_UNAVAILABLE."""
    params, record = _params(tmp_path, VERTEXSMS_API_TOKEN="x")
    async with Client(params, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        assert record.read_text() == "", "start-up or tools/list tried the network"
        started = time.monotonic()
        result = await client.call_tool("get_sms_rates", {"country": "LT"})
        elapsed = time.monotonic() - started
    assert len(tools) == 12  # the ten hosted tools, quote_sms and get_sms_status
    assert result.is_error
    texts = [c.text for c in result.content if isinstance(c, TextContent)]
    assert _error_code(texts) == "UPSTREAM_UNAVAILABLE"
    assert elapsed < 10, f"the offline failure took {elapsed:.1f}s"
    assert "api.vertexsms.com" in record.read_text()  # the guard saw, and refused, the real call


@pytest.mark.slow
async def test_sandbox_offline(tmp_path: Path) -> None:
    """With the network cut, the sandbox lists and serves tools without one non-loopback attempt."""
    params, record = _params(tmp_path, VERTEXSMS_SANDBOX="1")
    async with Client(params, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("get_sms_rates", {"country": "LT"})
    assert len(tools) == 12  # the ten hosted tools, quote_sms and get_sms_status
    assert not result.is_error, result.content
    assert record.read_text() == ""
