"""The pure OAuth protocol: metadata, URL rules, token parsing; no I/O. May import core."""
