"""URL rules every remote endpoint obeys: https anywhere, plain http only on loopback, no credentials."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from vertex_stdio.core.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any loopback address (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(name: str, value: str) -> str:
    """Accept ``https://`` anywhere and ``http://`` only on loopback; strip a trailing slash.

    ``name`` is how the person gave the URL (a variable or an option); errors name it.
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {value!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{name} uses plain http:// for a non-loopback host ({parts.hostname}); "
            "use https:// (http is allowed only for 127.0.0.1, [::1] and localhost)."
        )
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not carry credentials in the URL.")
    return value.rstrip("/")


def redacted_url(url: str) -> str:
    """``url`` without a password: none in the user part, none in a ``password=`` parameter.

    For printing a database URL (``postgresql://user:secret@host/db`` becomes
    ``postgresql://user@host/db``); anything unreadable is replaced whole, never half shown.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = userinfo.split(":", 1)[0] + "@" + hostport
        query = "&".join(
            "password=[redacted]" if pair.split("=", 1)[0].strip().lower() == "password" else pair
            for pair in parts.query.split("&")
        )
        tail = (f"?{query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
        return f"{parts.scheme}://{netloc}{parts.path}{tail}"
    except ValueError:
        return "[a URL that could not be read]"
