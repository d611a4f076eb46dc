"""JWT-shaped test tokens and a check that no piece of one survived into some text."""

from __future__ import annotations

import base64
import json
import secrets

from vertex_stdio.core.redact import PIECE


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(size: int = 1024) -> str:
    """A JWT-shaped token of about ``size`` characters (RS256-like: header.payload.signature)."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": secrets.token_hex(8)}).encode())
    signature = _b64(secrets.token_bytes(256))
    room = size - len(header) - len(signature) - 2
    claims = {"iss": "https://as.example", "sub": secrets.token_hex(8), "pad": ""}
    payload = _b64(json.dumps(claims).encode())
    claims["pad"] = secrets.token_hex(max(0, (room - len(payload)) * 3 // 8))
    payload = _b64(json.dumps(claims).encode())
    return f"{header}.{payload}.{signature}"


def leaked(text: str, token: str) -> list[str]:
    """Every ``PIECE``-character (8) piece of ``token`` found in ``text``."""
    return [token[i : i + PIECE] for i in range(len(token) - PIECE + 1) if token[i : i + PIECE] in text]
