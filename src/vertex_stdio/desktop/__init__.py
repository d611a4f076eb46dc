"""Desktop delivery: config entries (``setup``), diagnostics (``doctor``). May import vertexsms, bridge, oauth, mcpio and core; only app imports it.

Nothing here is imported by the server; ``app.cli`` imports these modules only for their commands.
"""
