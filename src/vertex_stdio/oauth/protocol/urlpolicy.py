"""The one check for every URL the sign-in fetches or hands to a browser or client.

A ``UrlPolicy`` is anchored on the configured resource (the MCP URL).  A URL passes when it is
``https://`` (``http://`` only for a loopback host, and only when the anchor is loopback too),
carries no credentials, and its host (after DNS resolution) is a public address or lies on a
kind of network the anchor itself is on: loopback, private (RFC 1918, ULA, CGNAT) or
link-local.  Cloud metadata addresses, multicast, unspecified and reserved addresses never pass.

A host that does not resolve passes the check: nothing can be reached through it, and the
request then fails as a connection error.  The check runs before each request, so a DNS answer
that changes between the check and the connection (rebinding) is not covered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.core.urls import is_loopback_host

log = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[list[str]]]
"""Given a host name, its IP addresses (an empty list when it does not resolve)."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
"""Cloud instance-metadata endpoints (AWS, ECS, AWS IPv6, Alibaba): never reachable from sign-in."""
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
RESOLVE_CACHE_SECONDS = 30.0
_NEVER = frozenset({"metadata", "multicast", "unspecified", "reserved"})


class UrlRefused(UpstreamError):
    """A URL the sign-in must not fetch or show: the message names it and the rule it broke."""


def network_kind(address: IpAddress) -> str:
    """``public``, ``loopback``, ``private``, ``link-local``, ``metadata``, ``multicast``, ``unspecified``
    or ``reserved``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "metadata"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("multicast", address.is_multicast),
        ("link-local", address.is_link_local),
        ("reserved", address.is_reserved),
        ("private", address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)),
    )
    for kind, hit in checks:
        if hit:
            return kind
    return "public" if address.is_global else "reserved"


async def system_resolver(host: str) -> list[str]:
    """The system's answer for ``host`` (``getaddrinfo``), or [] when it does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


@dataclass
class UrlPolicy:
    """The URL rules for one configured resource; ``check`` is the one gate (see the module doc)."""

    anchor: str
    resolver: Resolver = system_resolver
    _allowed: frozenset[str] | None = field(default=None, repr=False)
    _cache: dict[str, tuple[float, list[str]]] = field(default_factory=dict, repr=False)

    @property
    def allow_http(self) -> bool:
        """Plain http is acceptable only when the configured resource is itself on loopback."""
        host = urlsplit(self.anchor).hostname or ""
        return is_loopback_host(host)

    async def allowed(self) -> frozenset[str]:
        """The kinds of network a URL may point at: public, plus those the anchor is on."""
        if self._allowed is None:
            kinds = await self._kinds(urlsplit(self.anchor).hostname or "")
            self._allowed = frozenset({"public"} | (set(kinds) - _NEVER))
        return self._allowed

    def check_form(self, name: str, url: str) -> str:
        """The scheme, host and credentials rules (no DNS): the URL, or ``UrlRefused``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UrlRefused(f"The {name} is not an absolute https:// URL, so it was not used.")
        if parts.username or parts.password:
            raise UrlRefused(f"The {name} ({parts.hostname}) carries credentials, so it was not used.")
        if parts.scheme == "http" and not (self.allow_http and is_loopback_host(parts.hostname)):
            raise UrlRefused(
                f"The {name} ({parts.hostname}) uses plain http://, so it was not used: http is "
                "accepted only on loopback, and only when the configured MCP URL is on loopback too."
            )
        return url

    async def check(self, name: str, url: str) -> str:
        """``check_form`` plus where the host resolves to: the URL, or ``UrlRefused``."""
        self.check_form(name, url)
        host = urlsplit(url).hostname or ""
        refused = sorted(set(await self._kinds(host)) - await self.allowed())
        if refused:
            raise UrlRefused(
                f"The {name} ({host}) points at a {' and '.join(refused)} address, which sign-in does "
                "not contact unless the configured MCP URL is on such a network itself; it was not used."
            )
        return url

    def check_all(self, named: Iterable[tuple[str, str | None]]) -> None:
        """``check_form`` for each (name, URL) pair whose URL is set."""
        for name, url in named:
            if url is not None:
                self.check_form(name, url)

    async def _kinds(self, host: str) -> list[str]:
        literal = _literal(host)
        if literal is not None:
            return [network_kind(literal)]
        if host.lower() == "localhost":
            return ["loopback"]
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is None or now - cached[0] > RESOLVE_CACHE_SECONDS:
            cached = (now, await self.resolver(host))
            self._cache[host] = cached
        kinds = [network_kind(a) for a in (_literal(x) for x in cached[1]) if a is not None]
        return list(dict.fromkeys(kinds))
