"""Browser sign-in (OAuth 2.1 public client) for any protected resource. May import core only: never mcpio, the MCP SDK or a product.

``OAuthTokenProvider`` implements ``core.credentials.TokenProvider``; the ``login`` / ``logout`` /
``status`` commands that drive it are in ``app.signin``; each product gives it a ``SignInProfile``.
"""

from vertex_stdio.oauth.provider import OAuthTokenProvider
from vertex_stdio.oauth.storage.store import TokenStore

__all__ = ["OAuthTokenProvider", "TokenStore"]
