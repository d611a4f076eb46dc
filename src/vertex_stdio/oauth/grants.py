"""Token-endpoint calls: code exchange, refresh, revocation (RFC 6749, 7636, 8707, 7009).

Every token request carries ``resource``.  A refresh asks for the granted scopes only.  Secrets
sent are scrubbed from any text kept from the answer (see ``OAuthHttp.post_form``).
"""

from __future__ import annotations

import logging

from vertex_stdio.core.errors import UpstreamUnavailable
from vertex_stdio.oauth.io.http import OAuthFailed, OAuthHttp
from vertex_stdio.oauth.protocol.core import Tokens, client_authentication, parse_token_response
from vertex_stdio.oauth.protocol.metadata import ServerMetadata

log = logging.getLogger(__name__)


async def exchange_code(
    http: OAuthHttp,
    server: ServerMetadata,
    *,
    client_id: str,
    code: str,
    verifier: str,
    redirect_uri: str,
    resource: str,
    scopes: tuple[str, ...],
    now: float,
    client_secret: str | None = None,
    auth_method: str = "none",
) -> Tokens:
    """Redeem an authorization code (with its PKCE verifier) for tokens."""
    fields, headers = client_authentication(client_id, client_secret, auth_method)
    body = await http.post_form(
        server.token_endpoint,
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            **fields,
            "resource": resource,
        },
        secrets=(code, verifier, client_secret),
        headers=headers,
    )
    return parse_token_response(body, now=now, requested=scopes)


async def refresh(
    http: OAuthHttp,
    server: ServerMetadata,
    *,
    client_id: str,
    tokens: Tokens,
    resource: str,
    now: float,
    client_secret: str | None = None,
    auth_method: str = "none",
) -> Tokens:
    """Spend ``tokens.refresh_token`` once (no ``scope``: RFC 6749 §6 keeps the grant's scopes).

    Raises ``OAuthFailed`` (e.g. ``invalid_grant``) or ``UpstreamUnavailable`` (keep the token).
    """
    if not tokens.refresh_token:
        raise OAuthFailed("There is no refresh token to use.", error="invalid_grant", status=0)
    fields, headers = client_authentication(client_id, client_secret, auth_method)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        **fields,
        "resource": resource,
    }
    body = await http.post_form(
        server.token_endpoint, form, secrets=(tokens.refresh_token, client_secret), headers=headers
    )
    fresh = parse_token_response(
        body, now=now, requested=tokens.scopes, previous_refresh=tokens.refresh_token
    )
    return fresh


async def revoke(
    http: OAuthHttp,
    server: ServerMetadata,
    *,
    client_id: str,
    tokens: Tokens,
    client_secret: str | None = None,
    auth_method: str = "none",
) -> list[str]:
    """RFC 7009: revoke the refresh token, then the access token; returns what could not be revoked."""
    if not server.revocation_endpoint:
        return []
    fields, headers = client_authentication(client_id, client_secret, auth_method)
    failed: list[str] = []
    for hint, token in (("refresh_token", tokens.refresh_token), ("access_token", tokens.access_token)):
        if not token:
            continue
        try:
            await http.post_form(
                server.revocation_endpoint,
                {"token": token, "token_type_hint": hint, **fields},
                secrets=(token, client_secret),
                headers=headers,
            )
        except (OAuthFailed, UpstreamUnavailable) as exc:
            log.warning("could not revoke the %s: %s", hint.replace("_", " "), exc.message)
            failed.append(hint)
    return failed
