"""``doctor`` tells a mistyped host from no network from a refused port from a TLS problem (each
under real loopback conditions), tries a pasted token once, and leaves nothing open to others."""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import json
import os
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge import process_env, vertex
from vertex_stdio.desktop.doctor import collect
from vertex_stdio.desktop.report import Check
from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.settings import Settings


def _checks(settings: Settings, **seams: object) -> dict[str, Check]:
    return {c.name: c for c in collect(settings, **seams)}  # type: ignore[arg-type]


def _settings(api_url: str, mcp_url: str | None = None) -> Settings:
    return Settings(api_url=api_url, mcp_url=mcp_url or f"{api_url}/mcp", api_token="doctor-token-0123456789")


@pytest.mark.parametrize(
    ("dns_works", "status", "phrase"), [(True, "fail", "does not exist"), (False, "skip", "offline")]
)
def test_a_name_that_does_not_resolve(dns_works: bool, status: str, phrase: str) -> None:
    """A ``.invalid`` host really fails to resolve: a typo when DNS works otherwise, offline when it does not."""
    checks = _checks(_settings("https://api.vertexsms.invalid"), dns=lambda: dns_works)
    assert checks["api"].status == status, checks["api"]
    assert phrase in checks["api"].detail
    assert "api.vertexsms.invalid" in checks["api"].detail or status == "skip"
    if dns_works:
        assert "typo" in checks["api"].detail
    else:
        assert checks["mcp endpoint"].status == "skip"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_refused_connection_is_a_wrong_setting() -> None:
    """A closed loopback port: "refused", a failure with a fix, not "offline"."""
    url = f"http://127.0.0.1:{_closed_port()}"
    api = _checks(_settings(url), dns=lambda: True)["api"]
    assert api.status == "fail"
    assert "refused the connection" in api.detail
    assert "VERTEXSMS_API_URL" in api.fix


@pytest.fixture
def self_signed_tls(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on loopback whose certificate nobody trusts; yields its URL."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def accept() -> None:
        with listener:
            for _ in range(3):  # the API check, and whatever else tries before offline/failure
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                # The client rejects our certificate: the handshake fails here, as it should.
                with (
                    conn,
                    contextlib.suppress(ssl.SSLError, OSError),
                    context.wrap_socket(conn, server_side=True) as tls,
                ):
                    tls.recv(1)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{port}"
    listener.close()
    thread.join(timeout=15)


def test_a_certificate_nobody_trusts_is_a_tls_problem(self_signed_tls: str) -> None:
    """A self-signed certificate: "TLS problem" naming the verification failure, a failure."""
    api = _checks(_settings(self_signed_tls), dns=lambda: True)["api"]
    assert api.status == "fail", api
    assert "TLS problem" in api.detail
    assert "certificate" in api.detail.lower()


def test_no_route_is_offline() -> None:
    """ENETUNREACH under the connection (what a machine with no network gets): offline, skipped."""

    def no_route(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("no route", request=request) from OSError(
            errno.ENETUNREACH, "Network is unreachable"
        )

    checks = _checks(
        _settings("https://api.example.test"), transport=httpx2.MockTransport(no_route), dns=lambda: True
    )
    assert checks["api"].status == "skip"
    assert "no route" in checks["api"].detail
    assert checks["clock"].status == "skip"


def _doctor(tmp_path: Path, emulator: Emulator, token: str) -> tuple[int, dict[str, dict[str, str]], str]:
    env = process_env(
        tmp_path,
        VERTEXSMS_API_URL=emulator.api_url,
        VERTEXSMS_MCP_URL=emulator.mcp_url,
        VERTEXSMS_API_TOKEN=token,
    )
    done = vertex(env, "doctor", "--json", timeout=60)
    return (
        done.returncode,
        {c["name"]: c for c in json.loads(done.stdout)["checks"]},
        done.stdout + done.stderr,
    )


@pytest.mark.slow
def test_a_pasted_token_is_tried_once(emulator: Emulator, tmp_path: Path) -> None:
    """The real ``doctor`` tries the token with one free read-only call: accepted is ok, refused fails."""
    code, checks, _ = _doctor(tmp_path, emulator, SANDBOX_TOKEN)
    assert checks["api token works"]["status"] == "ok", checks["api token works"]
    assert code == 0
    assert len(emulator.journal_for("GET", "/rates/")) == 1
    wrong = "not-the-token-0123456789"
    code, checks, output = _doctor(tmp_path / "again", emulator, wrong)
    assert checks["api token works"]["status"] == "fail"
    assert "refused the token" in checks["api token works"]["detail"]
    assert code == 1
    assert wrong not in output
    assert {e.method for e in emulator.journal} == {"GET"}  # nothing but reads


@pytest.mark.slow
def test_doctor_leaves_nothing_open_and_does_not_warn_about_its_own_folders(tmp_path: Path) -> None:
    """In a fresh home, doctor (and the logging it starts) creates only 0700 folders and 0600 files,
    and does not warn about them; a folder others may list but not write is not warned about either."""
    env = process_env(tmp_path)
    del env["VERTEXSMS_LOG_DIR"]  # the default place, under the state directory
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg" / "state")  # parents that do not exist yet
    run = ["doctor", "--json", "--sandbox"]
    done = vertex(env, *run, timeout=60)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    created = [p for p in (tmp_path / "xdg").rglob("*")] + [tmp_path / "xdg"]
    assert created
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert checks["log directory"]["status"] == "ok", checks["log directory"]
    assert checks["state directory"]["status"] == "ok", checks["state directory"]
    state = tmp_path / "xdg" / "state" / "vertex-stdio"
    os.chmod(state, 0o755)  # noqa: S103 - as an older version left it: listable, files still private
    again = vertex(env, *run, timeout=60)
    checks = {c["name"]: c for c in json.loads(again.stdout)["checks"]}
    assert checks["state directory"]["status"] == "ok", checks["state directory"]
    (state / "notes.txt").write_text("x")
    os.chmod(state / "notes.txt", 0o644)
    third = vertex(env, *run, timeout=60)
    warned = {c["name"]: c for c in json.loads(third.stdout)["checks"]}["state directory"]
    assert warned["status"] == "warn"
    assert "notes.txt" in warned["detail"]


def test_offline_output_has_no_token(tmp_path: Path) -> None:
    """Text output never shows the pasted token, whatever the network does."""
    from vertex_stdio.desktop.doctor import run_doctor

    out = io.StringIO()
    settings = _settings(f"http://127.0.0.1:{_closed_port()}")
    run_doctor(settings, as_json=False, out=out, dns=lambda: True)
    assert "doctor-token-0123456789" not in out.getvalue()


def test_offline_is_not_called_everything_in_place() -> None:
    """Skipped network checks do not end in "Everything ... is in place"."""
    from vertex_stdio.desktop.doctor import run_doctor

    out = io.StringIO()
    code = run_doctor(_settings("https://api.vertexsms.invalid"), as_json=False, out=out, dns=lambda: False)
    assert code == 0
    assert "in place" not in out.getvalue()
    assert "run doctor again online" in out.getvalue()


def test_not_signed_in_yet_is_no_warning() -> None:
    """Never having signed in is normal (the first call signs in): not a warning."""
    from vertex_stdio.desktop import local_checks

    if not local_checks.oauth_available():
        pytest.skip("browser sign-in is not in this build")
    check = local_checks.check_sign_in(Settings())
    assert check.status == "skip", check
    assert "vertex-stdio login" in check.fix
