"""The VertexSMS tools: ``catalog`` declares them (``TOOLS``, ``TOOL_NAMES``); ``hosted`` is the
SDK-free core of the two forwarded to the hosted MCP server. May import vertexsms.api, journal,
settings, smsparts, dialcodes and core.

Importing this package imports nothing: the lean call path imports ``models`` and ``hosted``
without the SDK that ``catalog`` and the tool modules need.
"""
