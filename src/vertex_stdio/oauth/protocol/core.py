"""The pure core of the OAuth client: PKCE, state, URLs, scopes, token parsing, expiry.

Nothing here does I/O or reads a clock: callers pass ``now``.  Errors raised here never
carry a token, a code or a verifier; messages are built from our own words only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit

from vertex_stdio.core.errors import UpstreamError
from vertex_stdio.core.redact import clip

REFRESH_LEEWAY = 60.0
"""Most seconds before ``expires_at`` at which an access token counts as expired."""
LEEWAY_FRACTION = 0.1
"""...and at most this fraction of the token's lifetime, so a short-lived token is used for most of its life."""
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
"""The longest ``expires_in`` accepted (ten years); more is a broken answer, not a lifetime."""
MAX_TOKEN_LENGTH = 16 * 1024
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")

_OIDC_ONLY = frozenset({"openid", "offline_access"})
_ERROR_CODE = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$")


class TokenResponseInvalid(UpstreamError):
    """The token endpoint answered 200 with something that is not a usable token response."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message} Nothing already saved was changed. Try again; if it keeps happening, the "
            "authorization server is misconfigured: tell its operator."
        )


def new_verifier() -> str:
    """A PKCE code verifier: 64 URL-safe characters (RFC 7636 §4.1 allows 43..128)."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """The RFC 7636 S256 code challenge for ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """A one-time, unguessable ``state`` value."""
    return secrets.token_urlsafe(32)


def same_secret(expected: str, got: str | None) -> bool:
    """Constant-time comparison of ``state`` (or any other secret); None never matches."""
    if got is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), got.encode("utf-8"))


def fingerprint(secret: str) -> str:
    """A short SHA-256 fingerprint that identifies a secret without revealing it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def canonical_resource(url: str) -> str:
    """RFC 8707 canonical resource URI: lowercase scheme and host, no fragment, no trailing slash."""
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def resource_matches(advertised: str, requested: str) -> bool:
    """True when metadata's ``resource`` is exactly ``requested`` (RFC 9728 §3.3), canonically.

    ``requested`` is the identifier the metadata URL was built from (``prm_locations``); any other
    path-parent is refused: sent as the RFC 8707 resource, it would widen the token's audience.
    """
    return canonical_resource(advertised) == canonical_resource(requested)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: the resource identifier of the root metadata location."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def prm_locations(resource_url: str, header_url: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """Where to look for RFC 9728 metadata, in the spec's order, each with the resources it may name.

    RFC 9728 §3.3: the metadata's ``resource`` must equal the identifier the well-known URL was
    built from: the MCP URL for the header's URL and the path-inserted location, the origin for
    the root location (the metadata then describes the whole origin).  Root metadata naming the
    MCP URL itself (a narrower audience, and common) is accepted as well.
    """
    base = origin_of(resource_url)
    path = urlsplit(resource_url).path.rstrip("/")
    found: list[tuple[str, tuple[str, ...]]] = [(header_url, (resource_url,))] if header_url else []
    if path:
        found.append((f"{base}/.well-known/oauth-protected-resource{path}", (resource_url,)))
    found.append(
        (f"{base}/.well-known/oauth-protected-resource", (resource_url, base) if path else (resource_url,))
    )
    seen: dict[str, tuple[str, ...]] = {}
    for url, identifiers in found:
        seen.setdefault(url, identifiers)
    return list(seen.items())


def prm_urls(resource_url: str, header_url: str | None) -> list[str]:
    """Where to look for RFC 9728 metadata, in the spec's order."""
    return [url for url, _ in prm_locations(resource_url, header_url)]


def resource_identifiers(resource_url: str) -> tuple[str, str]:
    """The resources a sign-in for ``resource_url`` may name: the MCP URL itself, or its origin
    (root metadata describing the whole origin, RFC 9728 §3.3), canonically."""
    return canonical_resource(resource_url), canonical_resource(origin_of(resource_url))


def as_metadata_urls(issuer: str) -> list[str]:
    """Where to look for the metadata of ``issuer``: RFC 8414, then the OpenID Connect variants."""
    parts = urlsplit(issuer)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [f"{base}/.well-known/oauth-authorization-server", f"{base}/.well-known/openid-configuration"]
    return [
        f"{base}/.well-known/oauth-authorization-server{path}",
        f"{base}/.well-known/openid-configuration{path}",
        f"{base}{path}/.well-known/openid-configuration",
    ]


def choose_scopes(
    configured: Iterable[str] | None,
    challenged: Iterable[str],
    resource_supported: Iterable[str],
    server_supported: Iterable[str],
    *,
    offline_access: bool,
) -> tuple[str, ...]:
    """Configured first, then the challenge, then the metadata; plus ``offline_access`` when offered."""
    chosen: tuple[str, ...] = ()
    for candidate in (configured, challenged, resource_supported, server_supported):
        chosen = tuple(s for s in dict.fromkeys(candidate or ()) if s not in _OIDC_ONLY)
        if chosen:
            break
    if offline_access and "offline_access" not in chosen:
        chosen = (*chosen, "offline_access")
    return chosen


def union_scopes(*groups: Iterable[str]) -> tuple[str, ...]:
    """The union of scope lists, in first-seen order."""
    return tuple(dict.fromkeys(s for group in groups for s in group))


def client_authentication(
    client_id: str, secret: str | None, method: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and headers that identify the client at a token-type endpoint.

    RFC 6749 §2.3.1: ``client_secret_basic`` sends HTTP Basic of the form-urlencoded id and secret,
    ``client_secret_post`` both in the body; a public client (``none``, or no secret) sends its id.
    """
    if secret and method == "client_secret_basic":
        pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret, safe='')}"
        return {}, {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}
    if secret and method == "client_secret_post":
        return {"client_id": client_id, "client_secret": secret}, {}
    return {"client_id": client_id}, {}


def secret_method(supported: Iterable[str], chosen: str | None = None) -> str:
    """How to send a pre-registered secret: ``chosen`` when the person chose (the client's
    registration may say ``client_secret_post`` at a server that lists both), else Basic when the
    server lists it (or lists nothing, RFC 8414's default), else in the body when it lists that,
    else Basic."""
    if chosen is not None:
        return chosen
    listed = tuple(supported)
    if not listed or "client_secret_basic" in listed:
        return "client_secret_basic"
    return "client_secret_post" if "client_secret_post" in listed else "client_secret_basic"


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    """``endpoint`` with ``params`` added to its query (existing query parameters kept)."""
    parts = urlsplit(endpoint)
    query = urlencode(dict(params))
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def check_iss(expected: str, got: str | None, *, required: bool) -> str | None:
    """RFC 9207 §2.4: None when the callback's ``iss`` is acceptable, else the reason it is not."""
    if got is None:
        return "the authorization server did not identify itself (no iss)" if required else None
    if got != expected:
        return "the answer came from a different authorization server than the one asked (iss mismatch)"
    return None


def safe_error_code(value: object) -> str | None:
    """An OAuth ``error`` code fit to show (RFC 6749 charset, short), else None."""
    if isinstance(value, str) and _ERROR_CODE.match(value):
        return value
    return None


def scrub(text: str, secrets_: Iterable[str | None], limit: int = 200) -> str:
    """``text`` with every given secret (and any piece of one, and token shapes) cut, then cut to
    ``limit`` characters: redacted before it is clipped (``core.redact.clip``)."""
    return clip(text, limit, secrets_)


@dataclass(frozen=True)
class Tokens:
    """An access token, perhaps a refresh token, and what the server said about them."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    issued_at: float | None = None

    @property
    def leeway(self) -> float:
        """Seconds before expiry at which to stop using the token: 60, or a tenth of a shorter life."""
        if self.expires_at is None or self.issued_at is None:
            return REFRESH_LEEWAY
        return min(REFRESH_LEEWAY, max(0.0, self.expires_at - self.issued_at) * LEEWAY_FRACTION)

    def usable(self, now: float) -> bool:
        """True while the access token is not within ``leeway`` seconds of its expiry."""
        return self.expires_at is None or now < self.expires_at - self.leeway

    def covers(self, scopes: Iterable[str]) -> bool:
        """True when every scope in ``scopes`` was granted (an empty grant list means unknown: True)."""
        return not self.scopes or set(scopes) <= set(self.scopes)


def _token(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TokenResponseInvalid(f"The authorization server's token answer has no {name}.")
    if len(value) > MAX_TOKEN_LENGTH or not _TOKEN_CHARS.match(value):
        raise TokenResponseInvalid(
            f"The authorization server's {name} is not a printable ASCII token, so it cannot be sent."
        )
    return value


def _expires_in(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenResponseInvalid("The authorization server's expires_in is not a number of seconds.")
    if not 0 <= value <= MAX_EXPIRES_IN or not math.isfinite(value):
        raise TokenResponseInvalid(
            "The authorization server's expires_in is not a sensible number of seconds."
        )
    return float(value)


def parse_token_response(
    body: object, *, now: float, requested: tuple[str, ...], previous_refresh: str | None = None
) -> Tokens:
    """Validate a token endpoint's JSON answer; keep ``previous_refresh`` when none is returned.

    Raises ``TokenResponseInvalid`` naming the field at fault, never its value.
    """
    if not isinstance(body, dict):
        raise TokenResponseInvalid("The authorization server's token answer was not a JSON object.")
    access = _token(body.get("access_token"), "access_token")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenResponseInvalid("The authorization server issued a token that is not a Bearer token.")
    refresh = body.get("refresh_token", previous_refresh)
    if refresh is not None:
        refresh = _token(refresh, "refresh_token")
    expires_in = _expires_in(body.get("expires_in"))
    scope = body.get("scope")
    granted = tuple(scope.split()) if isinstance(scope, str) else requested
    expires_at = now + expires_in if expires_in is not None else None
    return Tokens(access, refresh, expires_at, granted, issued_at=now)
