"""Desktop delivery: client config entries (``setup``), diagnostics (``doctor``), manifest helpers.

Nothing here is imported by the server; ``cli`` imports these modules only for their commands.
"""
