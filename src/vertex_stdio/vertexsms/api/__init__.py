"""The VertexSMS APIs: the REST client and the hosted MCP caller. May import core only (the token seam, errors, HTTP)."""
