"""Which machine and which operating-system account made a call: every record names both, so a
team sharing one journal sees who sent what (``history``, ``history --export``)."""

from __future__ import annotations

import functools
import getpass
import os
import socket


@functools.cache
def machine() -> str:
    """This machine's host name ("" when it has none)."""
    return socket.gethostname()


@functools.cache
def os_user() -> str:
    """The account running this process: its login name, else its uid ("" on a system with neither)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else ""
