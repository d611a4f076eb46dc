"""Browser sign-in (OAuth 2.1 public client) for any protected resource. May import core only: never mcpio, the MCP SDK or a product.

``OAuthTokenProvider`` implements ``core.credentials.TokenProvider``; the ``login`` / ``logout`` /
``status`` commands that drive it are in ``app.signin``; each product gives it a ``SignInProfile``.

Both names are loaded at their first use (PEP 562): importing a submodule (the state file, the
store) runs this file, and must not pay for the sign-in flows and the keyring a kept token never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vertex_stdio.oauth.provider import OAuthTokenProvider
    from vertex_stdio.oauth.storage.store import TokenStore

__all__ = ["OAuthTokenProvider", "TokenStore"]


def __getattr__(name: str) -> Any:
    if name == "OAuthTokenProvider":
        from vertex_stdio.oauth.provider import OAuthTokenProvider

        return OAuthTokenProvider
    if name == "TokenStore":
        from vertex_stdio.oauth.storage.store import TokenStore

        return TokenStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
