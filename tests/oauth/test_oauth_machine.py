"""Unattended sign-ins (oauth/machine.py): what reaches the token endpoint, byte for byte.

The token endpoint is a recording httpx2 transport (an injected seam); the client assertion is
verified with the key pair's public half, as an authorization server would.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.machine import client_assertion, machine_tokens
from vertex_stdio.oauth.protocol.metadata import ServerMetadata, Target
from vertex_stdio.oauth.protocol.unattended import CrossApp, Machine
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy

pytestmark = pytest.mark.anyio
ISSUER = "https://as.example"
TARGET = Target(
    "https://mcp.example/mcp",
    ServerMetadata(
        ISSUER, f"{ISSUER}/authorize", f"{ISSUER}/token", token_auth_methods=("client_secret_post",)
    ),
)


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _recording() -> tuple[list[httpx2.Request], httpx2.MockTransport]:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == "/idp/token":
            return httpx2.Response(200, json={"access_token": "id-jag-grant", "token_type": "N_A"})
        return httpx2.Response(
            200, json={"access_token": "machine-token", "token_type": "Bearer", "expires_in": 60}
        )

    return seen, httpx2.MockTransport(answer)


def _form(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_client_assertion_is_signed_for_the_issuer(kind: str) -> None:
    """RFC 7523 §3: iss = sub = the client id, aud the issuer, a short life, a signature that verifies."""
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    token = client_assertion(Machine("app-1", private_key=_pem(key)), ISSUER, now=1000.0)
    header, payload, signature = token.split(".")
    claims = json.loads(_b64decode(payload))
    assert claims["iss"] == claims["sub"] == "app-1"
    assert claims["aud"] == ISSUER
    assert claims["exp"] - claims["iat"] == 300
    signed = f"{header}.{payload}".encode()
    raw = _b64decode(signature)
    if kind == "ec":
        assert json.loads(_b64decode(header))["alg"] == "ES256"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))
    else:
        assert json.loads(_b64decode(header))["alg"] == "RS256"
        key.public_key().verify(raw, signed, padding.PKCS1v15(), hashes.SHA256())


async def test_client_credentials_with_a_secret_is_sent_as_the_server_prefers() -> None:
    """The metadata lists only client_secret_post: id and secret go in the body, with resource and scope."""
    seen, transport = _recording()
    http = OAuthHttp(timeout=5, policy=UrlPolicy(TARGET.resource), transport=transport)
    try:
        tokens = await machine_tokens(http, Machine("app-1", secret="s3cret"), TARGET, ("read",), now=0.0)
    finally:
        await http.aclose()
    assert tokens.access_token == "machine-token"
    form = _form(seen[0])
    assert form == {
        "resource": TARGET.resource,
        "scope": "read",
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": "s3cret",
    }
    assert "authorization" not in seen[0].headers


async def test_cross_app_access_exchanges_the_id_token_then_redeems_the_grant() -> None:
    """RFC 8693 at the identity provider (audience the issuer, resource the MCP server), then the
    jwt-bearer grant at the authorization server with the client's Basic authentication."""
    seen, transport = _recording()
    server = ServerMetadata(ISSUER, f"{ISSUER}/authorize", f"{ISSUER}/token")
    target = Target(TARGET.resource, server)
    cross = CrossApp(f"{ISSUER}/idp/token", "idp-app", "person-id-token")
    http = OAuthHttp(timeout=5, policy=UrlPolicy(TARGET.resource), transport=transport)
    try:
        await machine_tokens(http, Machine("app-1", secret="s3cret", cross_app=cross), target, (), now=0.0)
    finally:
        await http.aclose()
    exchange, redeem = (_form(r) for r in seen)
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["subject_token"] == "person-id-token"
    assert (exchange["audience"], exchange["resource"], exchange["client_id"]) == (
        ISSUER,
        TARGET.resource,
        "idp-app",
    )
    assert redeem == {
        "resource": TARGET.resource,
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": "id-jag-grant",
    }
    assert seen[1].headers["authorization"] == "Basic " + base64.b64encode(b"app-1:s3cret").decode()
