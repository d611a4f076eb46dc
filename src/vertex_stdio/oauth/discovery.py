"""Discovery (RFC 9728 → RFC 8414 / OIDC) and client registration (pre-registered, CIMD, DCR)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from vertex_stdio.core.credentials import parse_challenge
from vertex_stdio.core.errors import AuthRequired, UpstreamError
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.oauth.protocol.core import (
    as_metadata_urls,
    canonical_resource,
    origin_of,
    prm_locations,
    resource_identifiers,
    safe_error_code,
    secret_method,
)
from vertex_stdio.oauth.protocol.metadata import (
    SECRET_METHODS,
    Client,
    MetadataInvalid,
    ResourceMetadata,
    ServerMetadata,
    Target,
    default_server_metadata,
    parse_resource_metadata,
    parse_server_metadata,
)
from vertex_stdio.oauth.storage.store import CachedTarget, TokenStore

log = logging.getLogger(__name__)

ClientSource = Callable[[str], Awaitable[Client]]
"""Given the redirect URI, the client to sign in with (configured, stored or newly registered)."""


def _advised(exc: MetadataInvalid, advice: Advice) -> MetadataInvalid:
    return MetadataInvalid(f"{exc.message} {advice.metadata_refused}")


async def discover_resource(
    http: OAuthHttp, resource_url: str, header_url: str | None, advice: Advice
) -> ResourceMetadata | None:
    """Fetch and validate RFC 9728 metadata: the 401 header's URL, path-inserted, then root.

    Each location's ``resource`` must be the identifier that location was built from (RFC 9728
    §3.3: the origin for the root one).  None when every location answers 404 (a server of the
    2025-03-26 spec, which has none); any other refusal (a redirect, never followed) stops here.
    """
    statuses = []
    for url, identifiers in prm_locations(resource_url, header_url):
        status, body = await http.get_json(url)
        if status == 200:
            try:
                return parse_resource_metadata(body, *identifiers)
            except MetadataInvalid as exc:
                raise _advised(exc, advice) from None
        log.debug("no protected-resource metadata at %s (HTTP %s)", url, status)
        statuses.append(status)
    if all(status == 404 for status in statuses):
        return None
    raise MetadataInvalid(
        f"{resource_url} publishes no OAuth protected-resource metadata, so browser sign-in cannot start. "
        + advice.check_resource
    )


async def legacy_server(http: OAuthHttp, resource_url: str) -> ServerMetadata:
    """A server of the 2025-03-26 MCP spec (no protected-resource metadata): the authorization
    server is the MCP server's origin; its RFC 8414 metadata if published, else the default
    ``/authorize``, ``/token`` and ``/register`` there."""
    origin = origin_of(resource_url)
    for url in as_metadata_urls(origin)[:1]:
        status, body = await http.get_json(url)
        if status == 200:
            return parse_server_metadata(body, origin)
    log.info("%s publishes no sign-in metadata; using the 2025-03-26 default endpoints", origin)
    return default_server_metadata(origin)


async def discover_server(http: OAuthHttp, issuer: str, advice: Advice) -> ServerMetadata:
    """Fetch and validate ``issuer``'s metadata in the spec's order (RFC 8414, then OIDC)."""
    for url in as_metadata_urls(issuer):
        status, body = await http.get_json(url)
        if status == 200:
            try:
                return parse_server_metadata(body, issuer)
            except MetadataInvalid as exc:
                raise _advised(exc, advice) from None
        log.debug("no authorization-server metadata at %s (HTTP %s)", url, status)
    raise MetadataInvalid(
        f"The authorization server {issuer} publishes no metadata (RFC 8414 or OpenID), so sign-in "
        "cannot start. " + advice.no_server_metadata
    )


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def registration_request(redirect_uri: str, client_name: str, *, device: bool = False) -> dict[str, Any]:
    """The RFC 7591 metadata of this native public client (no ``scope``: it would cap step-up).

    ``device`` adds the RFC 8628 device grant (when the server offers it), so one registration
    serves both the browser and the device sign-in.
    """
    grants = ["authorization_code", "refresh_token", *([DEVICE_GRANT] if device else [])]
    return {
        "client_name": client_name,
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "grant_types": grants,
        "response_types": ["code"],
        "redirect_uris": [redirect_uri],
    }


async def register(
    http: OAuthHttp, server: ServerMetadata, redirect_uri: str, profile: SignInProfile
) -> Client:
    """Dynamic Client Registration; refuses a registration this public client cannot use."""
    advice = profile.advice
    if not server.registration_endpoint:
        raise AuthRequired(
            f"The authorization server {server.issuer} does not let this app register itself. "
            + advice.no_registration
        )
    device = server.device_authorization_endpoint is not None
    request = registration_request(redirect_uri, profile.client_name, device=device)
    status, body = await http.post_json(server.registration_endpoint, request)
    if status not in (200, 201) or not isinstance(body, dict) or not isinstance(body.get("client_id"), str):
        error = safe_error_code(body.get("error")) if isinstance(body, dict) else None
        raise UpstreamError(
            f"Client registration at {server.issuer} failed (HTTP {status}, {error or 'no error code'}). "
            + advice.registration_failed
        )
    secret = body.get("client_secret") if isinstance(body.get("client_secret"), str) else None
    # RFC 7591 §2: an omitted method means client_secret_basic, for a client given a secret.
    assigned = body.get("token_endpoint_auth_method")
    method = str(assigned) if assigned else ("client_secret_basic" if secret else "none")
    if method not in ("none", *SECRET_METHODS) or (method != "none" and not secret):
        raise UpstreamError(
            f"The authorization server {server.issuer} registered this app for token-endpoint "
            f"authentication {safe_error_code(method) or 'unknown'!r}, which it cannot do. "
            + advice.public_client
        )
    log.info("registered OAuth client at %s (%s)", server.issuer, method)
    return Client(body["client_id"], server.issuer, redirect_uri, "registered", secret, method)


def stored_client(data: Mapping[str, Any] | None, issuer: str) -> Client | None:
    """A registration from the state file, only if it was issued by ``issuer``."""
    return Client.from_state(data, issuer)


def configured_client(
    client_id: str | None,
    metadata_url: str | None,
    server: ServerMetadata,
    secret: str | None = None,
    auth: str | None = None,
) -> Client | None:
    """The pre-registered client id (with its secret, sent as ``auth`` says, else as the server's
    metadata prefers), else the CIMD URL when the server supports it, else None."""
    if client_id:
        method = secret_method(server.token_auth_methods, auth) if secret else "none"
        return Client(client_id, server.issuer, None, "configured", secret, method)
    if metadata_url and server.cimd_supported:
        return Client(metadata_url, server.issuer, None, "metadata-document")
    return None


METADATA_LIFETIME = 24 * 3600.0
"""Seconds for which cached discovery metadata is trusted before it is fetched again."""


async def find_target(
    http: OAuthHttp,
    store: TokenStore,
    profile: SignInProfile,
    header_url: str | None,
    now: float,
    *,
    fresh: bool = False,
) -> Target:
    """The resource and its authorization server: from the state file's cache, else discovered.

    ``fresh`` skips the cache (after a 401: the resource may have moved to another issuer).
    Discovery probes the resource for a 401 ``resource_metadata`` when no header URL is known yet.
    Cached and fresh metadata pass the same checks (``checked_target``); a cache entry that
    fails them is dropped and discovery runs again.
    """
    mcp_url = profile.resource_url
    if header_url is None and not fresh:
        cached = await _cached_target(http, store, mcp_url, now)
        if cached is not None:
            return cached
    if header_url is None:
        who = f"the {profile.display_name} MCP server"
        header_url = parse_challenge(await http.probe(mcp_url, who=who)).resource_metadata
    prm = await discover_resource(http, mcp_url, header_url, profile.advice)
    if prm is None:
        target = Target(canonical_resource(mcp_url), await legacy_server(http, mcp_url))
    else:
        server = await discover_server(http, prm.authorization_servers[0], profile.advice)
        target = Target(canonical_resource(prm.resource), server, prm.scopes_supported)
    target = await checked_target(http, target, mcp_url)
    await store.cache_target(mcp_url, CachedTarget(target, now))
    return target


async def checked_target(http: OAuthHttp, target: Target, mcp_url: str) -> Target:
    """``target`` when its resource is ``mcp_url`` (or its origin, from root metadata: RFC 9728 §3.3)
    and every URL in it passes the policy."""
    if canonical_resource(target.resource) not in resource_identifiers(mcp_url):
        raise MetadataInvalid(
            f"The sign-in metadata describes the resource {target.resource}, not {mcp_url}; "
            "sign-in was stopped for your safety."
        )
    server = target.server
    for name, url in (
        ("authorization server", server.issuer),
        ("authorization endpoint", server.authorization_endpoint),
        ("token endpoint", server.token_endpoint),
        ("registration endpoint", server.registration_endpoint),
        ("revocation endpoint", server.revocation_endpoint),
        ("device authorization endpoint", server.device_authorization_endpoint),
    ):
        if url is not None:
            await http.policy.check(name, url)
    return target


async def cached_target(
    http: OAuthHttp, store: TokenStore, profile: SignInProfile, now: float
) -> Target | None:
    """The resource and its authorization server from the state file's cache only (None when not
    cached, stale or damaged): nothing is asked of the resource (``find_target`` would probe it)."""
    return await _cached_target(http, store, profile.resource_url, now)


async def _cached_target(http: OAuthHttp, store: TokenStore, mcp_url: str, now: float) -> Target | None:
    try:
        cached = store.cached_target(mcp_url)
        if cached is None or now - cached.fetched_at >= METADATA_LIFETIME:
            return None
        return await checked_target(http, cached.target, mcp_url)
    except (KeyError, TypeError, ValueError, UpstreamError) as exc:
        log.warning(
            "cached sign-in metadata is damaged or failed its checks (%s); discovering again",
            type(exc).__name__,
        )
        await store.forget_target(mcp_url)
        return None


def client_source(
    http: OAuthHttp,
    store: TokenStore,
    server: ServerMetadata,
    profile: SignInProfile,
    *,
    metadata_url: str | None,
) -> ClientSource:
    """The ``ClientSource`` for a sign-in: configured, else stored for this issuer, else DCR (stored)."""

    async def client_for(redirect_uri: str) -> Client:
        chosen = await known_client(store, server, profile, metadata_url)
        if chosen is None:
            chosen = await register(http, server, redirect_uri, profile)
            if chosen.secret:
                await store.save_secret(client_secret_account(chosen), chosen.secret)
            await store.keep_client(chosen)
        return chosen

    return client_for


def client_secret_account(client: Client) -> str:
    """The secret store's account for a registered client's secret."""
    return f"client-secret {client.issuer} {client.client_id}"


async def known_client(
    store: TokenStore, server: ServerMetadata, profile: SignInProfile, metadata_url: str | None
) -> Client | None:
    """The configured client, else the one registered with this issuer before (its secret read from
    the secret store), else None; never registers.

    A configured client id given no secret takes the one ``login --server NAME --ask-client-secret``
    kept for this issuer and id, if any (else it is a public client)."""
    secret = profile.client_secret
    if profile.client_id and not secret:
        secret = await _kept_secret(store, Client(profile.client_id, server.issuer))
    chosen = configured_client(profile.client_id, metadata_url, server, secret, profile.client_auth)
    if chosen is not None:
        return chosen
    chosen = store.client(server.issuer)
    if chosen is not None and chosen.auth_method != "none":
        secret = await store.load_secret(client_secret_account(chosen))
        chosen = replace(chosen, secret=secret) if secret else replace(chosen, auth_method="none")
    return chosen


async def _kept_secret(store: TokenStore, client: Client) -> str | None:
    try:
        return await store.load_secret(client_secret_account(client))
    except AuthRequired:
        return None  # no secret store: the sign-in's own load says so, in its own words


def known_client_id(
    store: TokenStore, server: ServerMetadata, client_id: str | None, metadata_url: str | None
) -> str | None:
    """The client id a stored sign-in would be keyed by, without registering anything."""
    chosen = configured_client(client_id, metadata_url, server) or store.client(server.issuer)
    return chosen.client_id if chosen else None
