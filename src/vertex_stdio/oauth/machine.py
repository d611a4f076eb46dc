"""Unattended sign-ins: the client signs in as itself, no browser and no person.

- ``client_credentials`` (RFC 6749 §4.4) with the pre-registered client's secret (Basic or in the
  body, as the server's metadata prefers) or with ``private_key_jwt`` (RFC 7523 §2.2: a short-lived
  assertion signed with the client's key, ``aud`` the authorization server's issuer);
- enterprise cross-app access (the ID-JAG flow of the MCP "enterprise-managed authorization"
  extension): the person's identity provider exchanges their ID token for an identity assertion
  grant (RFC 8693 token exchange), which the authorization server redeems (RFC 7523 jwt-bearer)
  for the client, authenticated with its secret.

Every token request carries ``resource`` (RFC 8707).  Secrets and assertions sent are scrubbed from
any text kept from an answer.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

from vertex_stdio.core.errors import ConfigError
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.protocol.core import (
    Tokens,
    client_authentication,
    parse_token_response,
    secret_method,
)
from vertex_stdio.oauth.protocol.metadata import Target
from vertex_stdio.oauth.protocol.unattended import CrossApp, Machine

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type's name
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a token type's name
ASSERTION_LIFETIME = 300


def read_private_key(path: str) -> bytes:
    """The PEM private key at ``path`` (``ConfigError`` naming the file when it cannot be used)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # lazy: rarely used

    try:
        pem = Path(path).expanduser().read_bytes()
        load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"--private-key {path}: not a readable, unencrypted PEM private key ({type(exc).__name__})."
        ) from None
    return pem


_CURVES = {"secp256r1": ("ES256", 32), "secp384r1": ("ES384", 48), "secp521r1": ("ES512", 66)}


def key_algorithm(pem: bytes) -> str:
    """The JWS algorithm for a key: ES256/ES384/ES512 by curve, else RS256."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _CURVES.get(key.curve.name, ("ES256", 32))[0]
    return "RS256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(pem: bytes, signing_input: bytes) -> bytes:
    """A JWS signature (RFC 7518 §3.3/§3.4) with the PEM key: raw ``r || s`` for EC, PKCS#1 v1.5 for RSA."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = _CURVES.get(key.curve.name, ("ES256", 32))[1]
        digest = {32: hashes.SHA256(), 48: hashes.SHA384(), 66: hashes.SHA512()}[size]
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    raise ConfigError(
        "--private-key: only EC (P-256, P-384, P-521) and RSA keys can sign a client assertion."
    )


def client_assertion(machine: Machine, audience: str, now: float) -> str:
    """An RFC 7523 client assertion: ``iss`` = ``sub`` = the client id, ``aud`` the issuer, 5 minutes."""
    if machine.private_key is None:
        raise ConfigError("A client assertion needs --private-key.")
    algorithm = key_algorithm(machine.private_key)
    claims = {
        "iss": machine.client_id,
        "sub": machine.client_id,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + ASSERTION_LIFETIME,
        "jti": secrets.token_urlsafe(16),
    }
    header = _b64(json.dumps({"alg": algorithm, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{_b64(_sign(machine.private_key, signing_input))}"


async def machine_tokens(
    http: OAuthHttp, machine: Machine, target: Target, scopes: tuple[str, ...], now: float | None = None
) -> Tokens:
    """A token set for ``target`` obtained by the client itself (see the module docstring)."""
    now = time.time() if now is None else now
    server = target.server
    form: dict[str, str] = {"resource": target.resource}
    if scopes:
        form["scope"] = " ".join(scopes)
    sent: list[str | None] = [machine.secret]
    if machine.cross_app is not None:
        grant = await _identity_assertion(http, machine.cross_app, target)
        form.update(grant_type=JWT_BEARER, assertion=grant)
        sent.append(grant)
    else:
        form["grant_type"] = "client_credentials"
    headers: dict[str, str] = {}
    if machine.private_key is not None:
        assertion = client_assertion(machine, server.issuer, now)
        form.update(client_assertion_type=ASSERTION_TYPE, client_assertion=assertion)
        sent.append(assertion)
    else:
        method = secret_method(server.token_auth_methods, machine.auth_method) if machine.secret else "none"
        fields, headers = client_authentication(machine.client_id, machine.secret, method)
        form.update(fields)
    body = await http.post_form(server.token_endpoint, form, secrets=sent, headers=headers)
    return parse_token_response(body, now=now, requested=scopes)


async def _identity_assertion(http: OAuthHttp, cross_app: CrossApp, target: Target) -> str:
    """RFC 8693 at the identity provider: the person's ID token for an ID-JAG for this server."""
    await http.policy.check("identity provider token endpoint", cross_app.token_endpoint)
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG,
        "audience": target.server.issuer,
        "resource": target.resource,
        "subject_token": cross_app.id_token,
        "subject_token_type": ID_TOKEN,
        "client_id": cross_app.client_id,
    }
    body = await http.post_form(cross_app.token_endpoint, form, secrets=(cross_app.id_token,))
    grant = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(grant, str) or not grant:
        raise ConfigError("The identity provider's token exchange answered no identity assertion grant.")
    return grant
