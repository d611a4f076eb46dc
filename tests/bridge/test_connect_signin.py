"""``connect``'s sign-in: registration order, a server without registration, and the commands with --server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from oauth_server.harness import auth_server, node_ready
from test_connect import _env, connect, envelope, remote, sign_in_once, text

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(node_ready() is not None, reason=str(node_ready()))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``vertex-stdio ARGS`` as a person runs it in a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args],
        env=_env(home, None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.anyio
async def test_without_registration_a_client_id_is_needed_and_used(
    browser: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No registration endpoint: a clear error naming --client-id; with a pre-registered id it signs in."""
    port = _free_port()
    static = {
        "client_id": "vertex-pre",
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [f"http://127.0.0.1:{port}/callback"],
    }
    with auth_server(tmp_path, AS_NO_REGISTRATION="1", AS_CLIENTS=json.dumps([static])) as as_server:
        assert "registration_endpoint" not in as_server.metadata()
        with remote(as_server.issuer, tmp_path) as url:
            async with connect(url, tmp_path) as client:
                error = envelope(await client.call_tool("sign_in", {}))
                assert error["code"] == "AUTH_REQUIRED"
                assert "--client-id" in error["message"]
            monkeypatch.setenv("VERTEXSMS_CALLBACK_PORT", str(port))
            async with connect(url, tmp_path / "second", "--client-id", "vertex-pre") as client:
                signed = await client.call_tool("sign_in", {})
                assert not signed.is_error, text(signed)
                assert not (await client.call_tool("fetch", {"id": "n1"})).is_error
        assert as_server.journal("registration") == []
        assert len(as_server.journal("grant", grant_type="authorization_code", client_id="vertex-pre")) == 1


@pytest.mark.anyio
async def test_status_and_logout_take_the_server_name(browser: Path, tmp_path: Path) -> None:
    """Signed in through connect --name: status and logout --server NAME see it; VertexSMS's do not."""
    with auth_server(tmp_path) as as_server, remote(as_server.issuer, tmp_path) as url:
        await sign_in_once(url, tmp_path, "--name", "notes")
        status = cli(tmp_path, "status", "--server", "notes", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["signed_in"] is True
        assert report["server"] == "notes"
        assert report["cached_offer"]["tools"] == 4
        assert report["sessions"][0]["resource"] == url
        [secrets_file] = (tmp_path / "state").rglob("secrets.json")
        for stored in json.loads(secrets_file.read_text()).values():
            for token in json.loads(stored).values():
                if isinstance(token, str) and len(token) > 16:
                    assert token not in status.stdout  # never a secret
        vertexsms = json.loads(cli(tmp_path, "status", "--json").stdout)
        assert vertexsms["sessions"] == []  # each server keeps its own sign-in
        out = cli(tmp_path, "logout", "--server", "notes")
        assert out.returncode == 0, out.stderr
        assert as_server.journal("revocation")
        again = json.loads(cli(tmp_path, "status", "--server", url, "--json").stdout)
        assert again["signed_in"] is False
        doctor = cli(tmp_path, "doctor", "--server", "notes", "--json")
        assert doctor.returncode == 0, doctor.stdout
        assert json.loads(doctor.stdout)["discovery"].startswith("ok: resource")
        unknown = cli(tmp_path, "status", "--server", "nobody")
        assert unknown.returncode == 2
        assert "notes" in unknown.stderr


@pytest.mark.anyio
async def test_a_401_for_a_dead_token_renews_the_sign_in_and_the_call_goes_through(
    browser: Path, tmp_path: Path
) -> None:
    """The remote stops accepting the access token (revoked): the call gets a 401, renews, succeeds."""
    with auth_server(tmp_path) as as_server, remote(as_server.issuer, tmp_path) as url:
        async with connect(url, tmp_path) as client:
            assert not (await client.call_tool("sign_in", {})).is_error
            [secrets_file] = (tmp_path / "state").rglob("secrets.json")
            [stored] = json.loads(secrets_file.read_text()).values()
            [registration] = as_server.journal("registration")
            # counted before the revocation: the 401 may meet the call, or the refresh of what the
            # remote offers that the sign-in started in the background (then the call signs in anew)
            before = (tmp_path / "remote.log").read_text().count("401")
            as_server.revoke(json.loads(stored)["access_token"], "access_token", registration["client_id"])
            renewed = await client.call_tool("fetch", {"id": "n2"})
            assert not renewed.is_error, text(renewed)
        assert (tmp_path / "remote.log").read_text().count("401") > before  # the remote did refuse it
