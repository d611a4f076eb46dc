"""Doctor checks that use the network: VertexSMS's API (and a pasted token), MCP endpoint, OAuth
metadata, clock skew.

Every request has a short timeout.  A failure says which it is: a name that does not exist, a
refused port, a TLS problem (all wrong settings or a proxy: they fail), or no network at all (no
route, no DNS even for a name that always exists, no answer from a remote host).  The first "no
network" marks the run offline and every later network check is skipped at once.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2

from vertex_stdio import __version__
from vertex_stdio.core.credentials import parse_challenge
from vertex_stdio.core.http import tls_context
from vertex_stdio.core.urls import is_loopback_host
from vertex_stdio.desktop.report import Check
from vertex_stdio.oauth.protocol.core import as_metadata_urls, prm_urls, resource_matches
from vertex_stdio.vertexsms.api.rest import TOKEN_HEADER
from vertex_stdio.vertexsms.links import TOKEN_URL
from vertex_stdio.vertexsms.settings import Settings

TIMEOUT = httpx2.Timeout(5.0, connect=3.0)
NO_ROUTE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}
SKEW_WARN, SKEW_FAIL = 30.0, 300.0
OFFLINE = "offline: the network is unreachable"
# A name that always exists: when it does not resolve either, DNS itself is out (offline), and a
# failed lookup of the configured host says nothing about its spelling.
CONTROL_HOST = "example.com"
DnsWorks = Callable[[], bool]


def dns_works() -> bool:
    """True when this machine can look up a name on the internet at all."""
    try:
        socket.getaddrinfo(CONTROL_HOST, 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return True


class Unreachable(Exception):
    """A request could not be made; ``offline`` says whether the network itself is missing."""

    def __init__(self, message: str, *, offline: bool) -> None:
        super().__init__(message)
        self.offline = offline


def _chain(exc: BaseException) -> list[BaseException]:
    seen = [exc]
    while (nxt := seen[-1].__cause__ or seen[-1].__context__) is not None and nxt not in seen:
        seen.append(nxt)
    return seen


def classify(exc: httpx2.TransportError, url: str, dns: DnsWorks = dns_works) -> Unreachable:
    """Which failure this is: a name that does not exist, no network, a refused port, TLS, a timeout.

    Only "no network" (no route, no DNS at all, no answer from a remote host) is ``offline``
    and skips the other checks; the rest are wrong settings or a proxy to fix, so they fail.
    """
    parts = urlsplit(url)
    host, where = (
        parts.hostname or "",
        f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}",
    )
    chain = _chain(exc)
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls)
        return Unreachable(
            f"TLS problem with {where}: {reason} (a proxy that intercepts HTTPS, or a wrong URL)",
            offline=False,
        )
    if any(isinstance(e, socket.gaierror) for e in chain):
        if dns():
            return Unreachable(
                f"the name {host} does not exist (DNS): check the URL for a typo", offline=False
            )
        return Unreachable(
            f"{OFFLINE}: no name can be looked up (DNS), not even {CONTROL_HOST}", offline=True
        )
    oserror = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
    if isinstance(oserror, OSError) and oserror.errno == errno.ECONNREFUSED:
        return Unreachable(
            f"{where} refused the connection: nothing listens there; check the URL", offline=False
        )
    if isinstance(oserror, OSError) and oserror.errno in NO_ROUTE_ERRNOS:
        return Unreachable(f"{OFFLINE}: no route to {host} ({oserror.strerror})", offline=True)
    if isinstance(exc, httpx2.TimeoutException):
        if is_loopback_host(host):
            return Unreachable(f"{where} accepted no connection in time; check the URL", offline=False)
        return Unreachable(
            f"{OFFLINE}: {where} did not answer in time (or a firewall drops it)", offline=True
        )
    return Unreachable(f"{url}: {type(exc).__name__}: {chain[-1]}", offline=False)


class Prober:
    """GETs with one client; remembers the first ``Date`` header and whether we are offline."""

    def __init__(self, client: httpx2.Client, dns: DnsWorks = dns_works) -> None:
        self.client = client
        self.offline = False
        self.date: str | None = None
        self._dns = dns

    def get(self, url: str, headers: dict[str, str] | None = None, **more: str) -> httpx2.Response:
        """The response to ``GET url``; raises ``Unreachable`` when no response came."""
        if self.offline:
            raise Unreachable(OFFLINE, offline=True)
        try:
            response = self.client.get(url, headers={**more, **(headers or {})})
        except httpx2.TransportError as exc:
            reason = classify(exc, url, self._dns)
            self.offline = reason.offline
            raise reason from exc
        self.date = self.date or response.headers.get("date")
        return response

    def get_json(self, url: str) -> dict[str, Any] | None:
        """The JSON object at ``url`` when it answers 200 with one, else None."""
        response = self.get(url, accept="application/json")
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


def _unreachable(name: str, exc: Unreachable, fix: str) -> Check:
    return Check(name, "skip" if exc.offline else "fail", str(exc), "" if exc.offline else fix)


def check_api(prober: Prober, api_url: str) -> Check:
    """Any HTTP answer from the REST API's base URL proves it is reachable."""
    try:
        response = prober.get(api_url + "/")
    except Unreachable as exc:
        return _unreachable("api", exc, "check VERTEXSMS_API_URL, your proxy and firewall")
    if response.status_code >= 500:
        return Check(
            "api",
            "warn",
            f"{api_url} answered HTTP {response.status_code}",
            "VertexSMS may be down; retry later",
        )
    return Check("api", "ok", f"{api_url} reachable (HTTP {response.status_code})")


def check_mcp(prober: Prober, mcp_url: str) -> tuple[Check, str | None]:
    """The MCP endpoint answers 401 without a token; returns its ``resource_metadata`` hint too."""
    try:
        response = prober.get(mcp_url, accept="application/json, text/event-stream")
    except Unreachable as exc:
        return _unreachable("mcp endpoint", exc, "check VERTEXSMS_MCP_URL, your proxy and firewall"), None
    hint = parse_challenge(response.headers.get("www-authenticate")).resource_metadata
    if response.status_code == 401:
        return Check("mcp endpoint", "ok", f"{mcp_url} reachable; asks for sign-in (HTTP 401)"), hint
    detail = f"{mcp_url} answered HTTP {response.status_code}, expected 401"
    return Check("mcp endpoint", "warn", detail, "check VERTEXSMS_MCP_URL"), hint


def check_resource_metadata(prober: Prober, mcp_url: str, hint: str | None) -> tuple[Check, str | None]:
    """RFC 9728 metadata exists, names this resource, and lists an authorization server."""
    name, fix = "resource metadata", "check VERTEXSMS_MCP_URL; or set VERTEXSMS_API_TOKEN to skip sign-in"
    try:
        found = [(url, prober.get_json(url)) for url in prm_urls(mcp_url, hint)]
    except Unreachable as exc:
        return _unreachable(name, exc, fix), None
    url, body = next(((u, b) for u, b in found if b is not None), ("", None))
    if body is None:
        return Check(name, "fail", f"no protected-resource metadata for {mcp_url}", fix), None
    found_resource = body.get("resource")
    # Exactly the resource sign-in accepts (RFC 9728 §3.3): a parent would widen the token's audience.
    if not isinstance(found_resource, str) or not resource_matches(found_resource, mcp_url):
        return Check(name, "fail", f"{url} is for {body.get('resource')!r}, not {mcp_url}", fix), None
    servers = body.get("authorization_servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
        detail = f"{url} matches, but names no authorization server: browser sign-in cannot work"
        return Check(name, "warn", detail, "set VERTEXSMS_API_TOKEN"), None
    return Check(name, "ok", f"{url}: authorization server {servers[0]}"), servers[0]


def check_auth_server(prober: Prober, issuer: str | None) -> Check:
    """RFC 8414 (or OIDC) metadata whose ``issuer`` is the one asked for, offering PKCE S256."""
    name, fix = (
        "authorization server",
        "VertexSMS's sign-in is misconfigured; set VERTEXSMS_API_TOKEN meanwhile",
    )
    if issuer is None:
        return Check(name, "skip", OFFLINE if prober.offline else "no authorization server to check")
    try:
        for url in as_metadata_urls(issuer):
            body = prober.get_json(url)
            if body is not None:
                break
        else:
            return Check(name, "fail", f"{issuer} publishes no authorization-server metadata", fix)
    except Unreachable as exc:
        return _unreachable(name, exc, fix)
    if body.get("issuer") != issuer:
        return Check(name, "fail", f"{url} says issuer {body.get('issuer')!r}, expected {issuer!r}", fix)
    methods = body.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        return Check(name, "fail", f"{issuer} does not offer PKCE S256", fix)
    return Check(name, "ok", f"{url}: issuer matches, PKCE S256 offered")


def check_clock(prober: Prober, now: float) -> Check:
    """Our clock against the first server ``Date`` header (tokens expire by the clock)."""
    if prober.date is None:
        return Check("clock", "skip", OFFLINE if prober.offline else "no Date header to compare with")
    try:
        server = parsedate_to_datetime(prober.date).timestamp()
    except (TypeError, ValueError):
        return Check("clock", "skip", f"unreadable Date header {prober.date!r}")
    skew = now - server
    detail = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the server"
    fix = "turn on automatic date and time (NTP) in your OS settings"
    if abs(skew) > SKEW_FAIL:
        return Check("clock", "fail", detail, fix)
    if abs(skew) > SKEW_WARN:
        return Check("clock", "warn", detail, fix)
    return Check("clock", "ok", detail)


def check_token_works(prober: Prober, api_url: str, token: str) -> Check:
    """One free, read-only call with the pasted token (``GET /rates/``) says whether VertexSMS takes it."""
    name, fix = "api token works", f"create a new token at {TOKEN_URL} and set VERTEXSMS_API_TOKEN to it"
    try:
        response = prober.get(
            f"{api_url}/rates/?format=json", {TOKEN_HEADER: token}, accept="application/json"
        )
    except Unreachable as exc:
        return _unreachable(name, exc, "check VERTEXSMS_API_URL, your proxy and firewall")
    status = response.status_code
    if status == 200:
        return Check(name, "ok", "VertexSMS accepted the token (GET /rates/: free, read-only)")
    if status == 401:
        return Check(
            name, "fail", "VertexSMS refused the token (HTTP 401): it is wrong, revoked or expired", fix
        )
    if status == 403:
        detail = (
            "the token is valid but may not read rates (HTTP 403); tools needing that permission will fail"
        )
        return Check(name, "warn", detail, f"give the token the permissions you need at {TOKEN_URL}")
    return Check(name, "skip", f"could not check the token: {api_url} answered HTTP {status}")


def network_checks(
    settings: Settings,
    *,
    transport: httpx2.BaseTransport | None,
    clock: Callable[[], float],
    dns: DnsWorks = dns_works,
) -> list[Check]:
    """The API (and a pasted token), the MCP endpoint, its OAuth metadata and the clock.

    Skipped in the sandbox.  ``dns`` (does DNS work at all?) is a seam for tests.
    """
    if settings.sandbox:
        return [Check("network", "skip", "sandbox: the built-in emulator needs no network")]
    headers = {"user-agent": f"vertex-stdio/{__version__} (doctor)"}
    # Synchronous, so not the edge's client; it trusts what the edge trusts (proxies: httpx2's own
    # reading of the same environment variables).
    with httpx2.Client(
        transport=transport, timeout=TIMEOUT, headers=headers, follow_redirects=False, verify=tls_context()
    ) as client:
        prober = Prober(client, dns)
        checks = [check_api(prober, settings.api_url)]
        if settings.api_token:
            checks.append(check_token_works(prober, settings.api_url, settings.api_token))
        mcp, hint = check_mcp(prober, settings.mcp_url)
        checks.append(mcp)
        if settings.api_token:
            checks.append(Check("resource metadata", "skip", "not needed: a pasted API token is used"))
        else:
            metadata, issuer = check_resource_metadata(prober, settings.mcp_url, hint)
            checks += [metadata, check_auth_server(prober, issuer)]
        checks.append(check_clock(prober, clock()))
    return checks
