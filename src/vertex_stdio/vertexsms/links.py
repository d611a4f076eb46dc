"""VertexSMS's sign-in links and advice, which its auth errors carry (the contract's envelope).

The core's auth errors name no product; every place a VertexSMS error becomes an envelope
(the server's tool errors, the emulator's answers) passes it through ``with_links`` first.
Light: imports only the core errors, so serving a pasted token stays lean.
"""

from __future__ import annotations

from typing import TypeVar

from vertex_stdio.core.errors import AuthError, VertexError
from vertex_stdio.core.launcher import command

SIGNUP_URL = "https://vertexsms.com/en/contact"
SIGNIN_URL = "https://vertexsms.com/en/login"
TOKEN_URL = "https://tool.vertexsms.com/settings/api"  # noqa: S105 - a page address, not a secret


def sign_in_hint() -> str:
    """How to sign in, naming the command that starts this installation (``core.launcher``)."""
    return (
        f"Run `{command('login')}` in a terminal to sign in with your browser, or set "
        "VERTEXSMS_API_TOKEN to an API token from " + TOKEN_URL + ". "
        "New to VertexSMS? Accounts are by invitation: " + SIGNUP_URL + "."
    )


E = TypeVar("E", bound=VertexError)


def not_signed_in() -> str:
    """What every call answers when no token can be had (``NoTokenProvider``'s message)."""
    return (
        "You are not signed in to VertexSMS, so this call was not made. "
        f"Sign in with `{command('login')}`, or set VERTEXSMS_API_TOKEN in the MCP server's "
        "environment (the desktop client's config), then try again."
    )


def with_links(error: E) -> E:
    """``error``, with VertexSMS's three links and how to sign in when it is an auth error.

    Fields the error already carries win (``setdefault``), as they always have.
    """
    if isinstance(error, AuthError):
        for key, value in (
            ("signup_url", SIGNUP_URL),
            ("signin_url", SIGNIN_URL),
            ("token_url", TOKEN_URL),
            ("how_to_sign_in", sign_in_hint()),
        ):
            error.extra.setdefault(key, value)
    return error
