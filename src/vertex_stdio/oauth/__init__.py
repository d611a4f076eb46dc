"""Browser sign-in (OAuth 2.1 public client) behind the token seam.

``OAuthTokenProvider`` implements ``credentials.TokenProvider``; ``commands`` holds the
``login`` / ``logout`` / ``status`` commands.  This package never imports the MCP server.
"""

from vertex_stdio.oauth.provider import OAuthTokenProvider
from vertex_stdio.oauth.storage.store import TokenStore

__all__ = ["OAuthTokenProvider", "TokenStore"]
