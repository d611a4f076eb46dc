"""The VertexSMS bridge: its settings, sign-in profile, server, tools, journal, sandbox and API clients. May import oauth, mcpio and core, never bridge."""
