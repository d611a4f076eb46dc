"""MCP over stdio: the stdio transport and its pipes. May import core (and the MCP SDK), never oauth."""
