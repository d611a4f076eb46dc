"""Validated RFC 9728 resource metadata and RFC 8414 / OIDC server metadata (pure).

Parsing refuses, with ``MetadataInvalid``, anything the MCP authorization rules forbid us to use:
a resource on another origin, an issuer that is not the one asked for, no PKCE S256, plain
http:// endpoints off loopback.  Messages name the problem and what the person can do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from vertex_stdio.core.errors import ConfigError, UpstreamError
from vertex_stdio.core.urls import check_url
from vertex_stdio.oauth.protocol.core import resource_matches

_WHAT_TO_DO = " Sign-in was stopped for your safety."
"""Ends every refusal; discovery adds the caller's advice (``Advice.metadata_refused``)."""


class MetadataInvalid(UpstreamError):
    """Discovery metadata that must not be used (wrong resource or issuer, no S256, bad URLs)."""


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def _endpoint(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise MetadataInvalid(f"The authorization server's metadata lacks a valid {name}." + _WHAT_TO_DO)
    try:
        return check_url(name, value)
    except ConfigError as exc:
        raise MetadataInvalid(f"The authorization server's {exc}" + _WHAT_TO_DO) from None


def _optional_endpoint(name: str, value: object) -> str | None:
    return None if value is None else _endpoint(name, value)


@dataclass(frozen=True)
class ResourceMetadata:
    """What the protected resource says about itself (RFC 9728)."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerMetadata:
    """The parts of an authorization server's metadata this client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    scopes_supported: tuple[str, ...] = ()
    iss_parameter_supported: bool = False
    cimd_supported: bool = False
    token_auth_methods: tuple[str, ...] = ()
    """``token_endpoint_auth_methods_supported`` (RFC 8414: ``client_secret_basic`` when empty)."""

    @property
    def offers_offline_access(self) -> bool:
        """True when the server lists ``offline_access`` (it may only issue refresh tokens then)."""
        return "offline_access" in self.scopes_supported

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file's metadata cache."""
        data = asdict(self)
        data["scopes_supported"] = list(self.scopes_supported)
        data["token_auth_methods"] = list(self.token_auth_methods)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerMetadata:
        """Rebuild from ``to_json`` output with the URL checks fresh metadata gets.

        Raises ``KeyError``/``TypeError`` on damaged input, ``MetadataInvalid`` on a refused URL.
        """
        issuer = data["issuer"]
        _endpoint("issuer", issuer)  # checked, kept verbatim: issuers compare exactly (RFC 8414 §3.3)
        return cls(
            issuer=issuer,
            authorization_endpoint=_endpoint("authorization_endpoint", data["authorization_endpoint"]),
            token_endpoint=_endpoint("token_endpoint", data["token_endpoint"]),
            registration_endpoint=_optional_endpoint(
                "registration_endpoint", data.get("registration_endpoint")
            ),
            revocation_endpoint=_optional_endpoint("revocation_endpoint", data.get("revocation_endpoint")),
            device_authorization_endpoint=_optional_endpoint(
                "device_authorization_endpoint", data.get("device_authorization_endpoint")
            ),
            scopes_supported=_strings(data.get("scopes_supported")),
            iss_parameter_supported=data.get("iss_parameter_supported") is True,
            cimd_supported=data.get("cimd_supported") is True,
            token_auth_methods=_strings(data.get("token_auth_methods")),
        )


def parse_resource_metadata(body: object, requested: str, *also: str) -> ResourceMetadata:
    """Validate RFC 9728 metadata fetched for the resource ``requested`` (or one of ``also``)."""
    if not isinstance(body, dict):
        raise MetadataInvalid("The protected-resource metadata is not a JSON object." + _WHAT_TO_DO)
    resource = body.get("resource")
    if not isinstance(resource, str) or not any(resource_matches(resource, r) for r in (requested, *also)):
        raise MetadataInvalid(
            f"The protected-resource metadata describes {resource!r}, not {requested}." + _WHAT_TO_DO
        )
    servers = _strings(body.get("authorization_servers"))
    if not servers:
        raise MetadataInvalid(
            f"The protected-resource metadata for {requested} names no authorization server." + _WHAT_TO_DO
        )
    for server in servers:
        _endpoint("authorization server", server)
    return ResourceMetadata(resource, servers, _strings(body.get("scopes_supported")))


def parse_server_metadata(body: object, expected_issuer: str) -> ServerMetadata:
    """Validate authorization-server metadata fetched for ``expected_issuer`` (exact match)."""
    if not isinstance(body, dict):
        raise MetadataInvalid("The authorization server's metadata is not a JSON object." + _WHAT_TO_DO)
    if body.get("issuer") != expected_issuer:
        raise MetadataInvalid(
            f"The authorization server's metadata names issuer {body.get('issuer')!r}, "
            f"not {expected_issuer!r} as expected." + _WHAT_TO_DO
        )
    if "S256" not in _strings(body.get("code_challenge_methods_supported")):
        raise MetadataInvalid(
            f"The authorization server {expected_issuer} does not advertise PKCE S256 "
            "(code_challenge_methods_supported), which this client requires." + _WHAT_TO_DO
        )
    return ServerMetadata(
        issuer=expected_issuer,
        authorization_endpoint=_endpoint("authorization_endpoint", body.get("authorization_endpoint")),
        token_endpoint=_endpoint("token_endpoint", body.get("token_endpoint")),
        registration_endpoint=_optional_endpoint("registration_endpoint", body.get("registration_endpoint")),
        revocation_endpoint=_optional_endpoint("revocation_endpoint", body.get("revocation_endpoint")),
        device_authorization_endpoint=_optional_endpoint(
            "device_authorization_endpoint", body.get("device_authorization_endpoint")
        ),
        scopes_supported=_strings(body.get("scopes_supported")),
        iss_parameter_supported=body.get("authorization_response_iss_parameter_supported") is True,
        cimd_supported=body.get("client_id_metadata_document_supported") is True,
        token_auth_methods=_strings(body.get("token_endpoint_auth_methods_supported")),
    )


def default_server_metadata(origin: str) -> ServerMetadata:
    """The 2025-03-26 MCP spec's fallback for a server with no metadata: the default endpoints at
    the MCP server's origin (``/authorize``, ``/token``, ``/register``)."""
    return ServerMetadata(
        issuer=origin,
        authorization_endpoint=f"{origin}/authorize",
        token_endpoint=f"{origin}/token",
        registration_endpoint=f"{origin}/register",
    )


SECRET_METHODS = ("client_secret_basic", "client_secret_post")
"""The token-endpoint authentication methods that send a client secret (RFC 6749 §2.3.1)."""


@dataclass(frozen=True)
class Client:
    """An OAuth client identity, bound to the issuer that knows it.

    ``secret`` (never written to the state file, never in a repr) goes to the token endpoint as
    ``auth_method`` says: ``none`` (a public client), ``client_secret_basic`` or ``client_secret_post``.
    """

    client_id: str
    issuer: str
    redirect_uri: str | None = None
    how: str = "registered"  # "configured" | "metadata-document" | "registered"
    secret: str | None = field(default=None, repr=False)
    auth_method: str = "none"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file (the client id is not a secret; the secret is not here)."""
        return {
            "client_id": self.client_id,
            "issuer": self.issuer,
            "redirect_uri": self.redirect_uri,
            "auth_method": self.auth_method,
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any] | None, issuer: str) -> Client | None:
        """A registration from the state file, only if it was issued by ``issuer``."""
        if not data or data.get("issuer") != issuer or not isinstance(data.get("client_id"), str):
            return None
        redirect = data.get("redirect_uri")
        method = str(data["auth_method"]) if data.get("auth_method") in SECRET_METHODS else "none"
        return cls(
            data["client_id"], issuer, redirect if isinstance(redirect, str) else None, auth_method=method
        )


@dataclass(frozen=True)
class Target:
    """What to sign in to: the RFC 8707 resource and its authorization server."""

    resource: str
    server: ServerMetadata
    resource_scopes: tuple[str, ...] = ()
