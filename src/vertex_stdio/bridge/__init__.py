"""``vertex-stdio connect URL``: any OAuth-protected remote MCP server, served over stdio. May import oauth, mcpio and core, never vertexsms.

``servers`` names the remote and builds its sign-in profile; ``offer`` caches what it offers;
``link`` keeps the connection to it; ``proxy`` is the local stdio server that forwards to it,
passing on the shapes in ``wire``; ``signin_tool`` is what it says about signing in.
"""
