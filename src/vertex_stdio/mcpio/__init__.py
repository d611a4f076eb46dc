"""MCP over stdio: the stdio transport and its pipes, the one serve runner, the sign-in prompt adapter, the lean front. May import core (and the MCP SDK), never oauth."""
