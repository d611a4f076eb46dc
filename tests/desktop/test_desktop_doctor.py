"""``doctor``: each check against real loopback servers, real directories and real keyring backends."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from vertex_stdio.desktop import local_checks
from vertex_stdio.desktop.doctor import collect, run_doctor
from vertex_stdio.desktop.report import Check
from vertex_stdio.vertexsms.settings import Settings

SECRET = "doctor-secret-0123456789"
Route = tuple[int, dict[str, str], bytes]


class _Handler(BaseHTTPRequestHandler):
    server: FakeVertex

    def do_GET(self) -> None:
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)  # adds Date
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class FakeVertex(ThreadingHTTPServer):
    """A loopback stand-in for VertexSMS: API root, MCP 401, RFC 9728 and RFC 8414 documents."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.api_url, self.mcp_url, self.issuer = f"{self.base}/api", f"{self.base}/mcp", f"{self.base}/as"
        prm = f"{self.base}/.well-known/oauth-protected-resource/mcp"
        self.routes: dict[str, Route] = {
            "/api/": (404, {}, b"{}"),
            "/mcp": (401, {"www-authenticate": f'Bearer resource_metadata="{prm}"'}, b""),
        }
        self.publish(resource=self.mcp_url, issuer=self.issuer, methods=["S256"])

    def publish(self, *, resource: str, issuer: str, methods: list[str]) -> None:
        """Serve metadata with the given ``resource``, ``issuer`` and PKCE methods."""
        prm = {"resource": resource, "authorization_servers": [self.issuer]}
        meta = {"issuer": issuer, "code_challenge_methods_supported": methods}
        self.routes["/.well-known/oauth-protected-resource/mcp"] = (200, {}, json.dumps(prm).encode())
        self.routes["/.well-known/oauth-authorization-server/as"] = (200, {}, json.dumps(meta).encode())


@pytest.fixture
def vertex() -> Iterator[FakeVertex]:
    server = FakeVertex()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The ``fail`` backend, as on a headless Linux box without a Secret Service."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def _settings(vertex: FakeVertex, **changes: Any) -> Settings:
    return Settings(api_url=vertex.api_url, mcp_url=vertex.mcp_url, **changes).validated()


@pytest.mark.usefixtures("no_keyring")
def test_fail_keyring_fails_unless_a_fallback_is_chosen() -> None:
    """No keyring fails for browser sign-in, warns with the file store, and is skipped with a token."""
    assert local_checks.check_keyring(Settings()).status == "fail"
    assert "VERTEXSMS_ALLOW_FILE_STORE" in local_checks.check_keyring(Settings()).fix
    assert local_checks.check_keyring(Settings(allow_file_store=True)).status == "warn"
    assert local_checks.check_keyring(Settings(api_token=SECRET)).status == "skip"


def test_keyring_kinds() -> None:
    """Backends are told apart: fail → none, a plaintext file backend → plaintext, others → secure."""

    class PlaintextKeyring(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            return None

        def delete_password(self, service: str, username: str) -> None:
            return None

    assert local_checks.keyring_kind(fail.Keyring()) == "none"
    assert local_checks.keyring_kind(PlaintextKeyring()) == "plaintext"


def test_everything_reachable_passes(vertex: FakeVertex) -> None:
    """With a pasted token and a reachable upstream, doctor exits 0 and never prints the token."""
    out = io.StringIO()
    code = run_doctor(_settings(vertex, api_token=SECRET), as_json=False, out=out)
    text = out.getvalue()
    assert code == 0, text
    assert SECRET not in text
    assert "[  ok] api " in text
    assert "Everything vertex-stdio needs is in place." in text


def test_metadata_is_validated(vertex: FakeVertex) -> None:
    """A 401 MCP endpoint, matching RFC 9728 metadata and an RFC 8414 issuer with S256 are all ok."""
    checks = _by_name(collect(_settings(vertex)))
    for name in ("api", "mcp endpoint", "resource metadata", "authorization server", "clock"):
        assert checks[name].status == "ok", checks[name]
    assert vertex.issuer in checks["resource metadata"].detail


@pytest.mark.parametrize(
    ("change", "failing", "phrase"),
    [
        ({"resource": "http://127.0.0.1:1/other"}, "resource metadata", "not http"),
        ({"issuer": "https://evil.example"}, "authorization server", "expected"),
        ({"methods": ["plain"]}, "authorization server", "S256"),
    ],
)
def test_bad_metadata_fails(vertex: FakeVertex, change: dict[str, Any], failing: str, phrase: str) -> None:
    """Metadata for another resource, a different issuer or no S256 fails, with a fix."""
    published: dict[str, Any] = {"resource": vertex.mcp_url, "issuer": vertex.issuer, "methods": ["S256"]}
    vertex.publish(**(published | change))
    check = _by_name(collect(_settings(vertex)))[failing]
    assert check.status == "fail"
    assert phrase in check.detail
    assert check.fix


def test_parent_resource_fails_as_sign_in_refuses_it(vertex: FakeVertex) -> None:
    """Metadata naming a parent of the MCP URL fails here too: sign-in would refuse it (issue 10)."""
    vertex.publish(resource=vertex.base + "/", issuer=vertex.issuer, methods=["S256"])
    check = _by_name(collect(_settings(vertex)))["resource metadata"]
    assert check.status == "fail"
    assert "not http" in check.detail


@pytest.mark.parametrize(("offset", "status"), [(2, "ok"), (-120, "warn"), (900, "fail")])
def test_clock_skew(vertex: FakeVertex, offset: float, status: str) -> None:
    """Skew against the server's Date: ok within 30 s, warn beyond, fail beyond 300 s."""
    clock = _by_name(collect(_settings(vertex), clock=lambda: time.time() + offset))["clock"]
    assert clock.status == status, clock


def test_offline_skips_network_checks() -> None:
    """No DNS at all (not even for a name that always exists) means offline: every network check is
    skipped and doctor passes."""
    settings = Settings(api_url="https://api.vertexsms.invalid", mcp_url="https://mcp.vertexsms.invalid/mcp")
    started = time.monotonic()
    out = io.StringIO()
    code = run_doctor(replace(settings, api_token=SECRET), as_json=True, out=out, dns=lambda: False)
    report = json.loads(out.getvalue())
    network = [c for c in report["checks"] if c["name"] in ("api", "mcp endpoint", "clock")]
    assert [c["status"] for c in network] == ["skip", "skip", "skip"]
    assert all("offline" in c["detail"] for c in network)
    assert code == 0
    assert report["ok"] is True
    assert time.monotonic() - started < 10


def test_closed_loopback_port_fails(tmp_path: Path) -> None:
    """A loopback URL nobody listens on is not 'offline' but a wrong setting: fail, exit 1."""
    dead = "http://127.0.0.1:9"
    out = io.StringIO()
    code = run_doctor(Settings(api_url=dead, mcp_url=f"{dead}/mcp", api_token=SECRET), as_json=True, out=out)
    checks = {c["name"]: c for c in json.loads(out.getvalue())["checks"]}
    assert code == 1
    assert checks["api"]["status"] == "fail"
    assert "refused the connection" in checks["api"]["detail"]
    assert checks["api"]["fix"]


def test_json_shape(vertex: FakeVertex) -> None:
    """--json writes one object: ok plus checks with exactly name, status, detail and fix."""
    out = io.StringIO()
    run_doctor(_settings(vertex, api_token=SECRET), as_json=True, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert set(report) == {"ok", "checks"}
    assert isinstance(report["ok"], bool)
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in {"ok", "warn", "fail", "skip"}
    assert SECRET not in out.getvalue()


def test_directory_permissions(isolated_dirs: Path) -> None:
    """A private state directory is ok; one readable by others, or holding a 0644 file, warns."""
    state = local_checks.state_dir()
    assert local_checks.check_directory("state", state).status == "ok"  # created on first use
    state.mkdir(parents=True, mode=0o700)
    (state / "state.json").write_text("{}")
    (state / "state.json").chmod(0o600)
    assert local_checks.check_directory("state", state).status == "ok"
    (state / "state.json").chmod(0o644)
    loose = local_checks.check_directory("state", state)
    assert loose.status == "warn"
    assert "chmod" in loose.fix
    file_in_the_way = isolated_dirs / "blocked"
    file_in_the_way.write_text("")
    assert local_checks.check_directory("logs", file_in_the_way).status == "fail"


def test_token_and_sign_in_without_oauth_build() -> None:
    """Without a token, the token check names the way to get one; with one, sign-in is not needed."""
    with_token = Settings(api_token=SECRET)
    assert local_checks.check_token(with_token).status == "ok"
    assert SECRET not in local_checks.check_token(with_token).detail
    assert local_checks.check_sign_in(with_token).status == "skip"
    if not local_checks.oauth_available():
        assert local_checks.check_sign_in(Settings()).detail == "browser sign-in not available in this build"
        assert local_checks.check_token(Settings()).status == "fail"


def test_sandbox_needs_no_network_or_credentials() -> None:
    """In sandbox mode the token, sign-in and network checks are skipped."""
    checks = _by_name(collect(Settings(sandbox=True)))
    assert checks["network"].status == "skip"
    assert checks["api token"].status == "skip"
    assert checks["sign-in"].status == "skip"


def test_against_the_emulator() -> None:
    """The built-in emulator passes the API, MCP and clock checks, and its RFC 9728 resource matches."""
    try:
        from vertex_stdio.vertexsms.sandbox import Emulator
    except ImportError:
        pytest.skip("the sandbox emulator is not in this build yet")
    with Emulator() as emulator:
        settings = Settings(api_url=emulator.api_url, mcp_url=emulator.mcp_url).validated()
        checks = _by_name(collect(settings))
    for name in ("api", "mcp endpoint", "clock"):
        assert checks[name].status == "ok", checks[name]
    # The emulator's RFC 9728 document names this resource but no authorization server.
    assert checks["resource metadata"].status in ("ok", "warn")
    assert "matches" in checks["resource metadata"].detail or checks["resource metadata"].status == "ok"
