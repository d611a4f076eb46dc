"""``connect`` on a corporate network: an HTTPS remote reached through ``HTTPS_PROXY`` (a real
CONNECT tunnel on loopback) or straight past it (``NO_PROXY``), its certificate from a private CA
made here and trusted only through ``SSL_CERT_FILE``; the sign-in and a tool call go through."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from forward_proxy import forward_proxy
from oauth_server.harness import auth_server, first_line, node_ready, stop
from private_ca import certificates
from test_connect import TESTS, envelope, text
from test_connect_secret import connect_env

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]


@contextmanager
def tls_remote(issuer: str, tmp: Path, cert: Path, key: Path) -> Iterator[str]:
    """The Vocci-shaped remote over HTTPS on 127.0.0.1 (certificate ``cert``); yields its MCP URL."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "remote_mcp.py"), issuer, "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "REMOTE_LOG": str(tmp / "remote.log"),
            "REMOTE_TLS_CERT": str(cert),
            "REMOTE_TLS_KEY": str(key),
        },
    )
    try:
        line = first_line(proc, 30.0)
        assert line.startswith(b"READY "), line
        yield f"https://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        stop(proc)


@pytest.mark.anyio
@pytest.mark.parametrize("bypass", [False, True], ids=["through-the-tunnel", "no-proxy"])
async def test_an_https_remote_behind_a_proxy_signs_in_and_serves(
    browser: Path, tmp_path: Path, bypass: bool
) -> None:
    """With ``HTTPS_PROXY`` every request to the remote goes through one CONNECT tunnel after another
    (the authorization server, plain http, is not an HTTPS_PROXY matter and goes direct); with the
    remote's host in ``NO_PROXY`` nothing goes through the proxy. TLS is verified against the CA
    that ``SSL_CERT_FILE`` names, beside the system's."""
    ca, cert, key = certificates(tmp_path)
    with (
        auth_server(tmp_path) as as_server,
        tls_remote(as_server.issuer, tmp_path, cert, key) as url,
        forward_proxy() as proxy,
    ):
        env = {
            "HTTPS_PROXY": proxy.url,
            "SSL_CERT_FILE": str(ca),
            **({"NO_PROXY": "127.0.0.1"} if bypass else {}),
        }
        async with connect_env(url, tmp_path, env) as client:
            signed = await client.call_tool("sign_in", {})
            assert not signed.is_error, text(signed)
            found = await client.call_tool("fetch", {"id": "n1"})
            assert not found.is_error, text(found)
            assert "n1" in text(found)
        assert len(as_server.journal("grant", grant_type="authorization_code")) == 1
    assert "tools/call" in (tmp_path / "remote.log").read_text()
    if bypass:
        assert proxy.seen == []
    else:
        assert f"CONNECT 127.0.0.1:{urlsplit(url).port}" in proxy.seen, proxy.seen
        assert {line.split()[0] for line in proxy.seen} == {"CONNECT"}, proxy.seen


@pytest.mark.anyio
async def test_without_ssl_cert_file_the_private_ca_is_not_trusted(browser: Path, tmp_path: Path) -> None:
    """The same remote with no ``SSL_CERT_FILE``: its certificate is refused (no sign-in, no call),
    and the tool error says so and names ``SSL_CERT_FILE``, not "sign in"."""
    _, cert, key = certificates(tmp_path)
    with auth_server(tmp_path) as as_server, tls_remote(as_server.issuer, tmp_path, cert, key) as url:
        async with connect_env(url, tmp_path, {}) as client:
            refused = await client.call_tool("fetch", {"id": "n1"})
            error = envelope(refused)
        assert as_server.journal("grant") == []
    assert error["code"] == "UPSTREAM_UNAVAILABLE", error
    assert "certificate" in error["message"], error
    assert "SSL_CERT_FILE" in error["message"], error
    assert not (tmp_path / "remote.log").exists() or "tools/call" not in (tmp_path / "remote.log").read_text()
