"""Which local account opened a loopback connection, so another account's browser can be refused.

Linux lists every TCP socket with its owner in ``/proc/net/tcp``; the client end of a
connection to the receiver is the row whose local address is the peer's and whose remote
address is ours.  Elsewhere (or when the table cannot be read) the owner is unknown and the
cookie binding alone protects the sign-in.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

TCP_TABLE = Path("/proc/net/tcp")


def _address(field: str) -> tuple[str, int] | None:
    host, _, port = field.partition(":")
    if len(host) != 8:
        return None
    try:
        return socket.inet_ntoa(int(host, 16).to_bytes(4, sys.byteorder)), int(port, 16)
    except ValueError:
        return None


def peer_uid(peer: tuple[str, int], ours: tuple[str, int], table: Path = TCP_TABLE) -> int | None:
    """The user id owning the client socket ``peer`` connected to ``ours``; None when unknown."""
    try:
        rows = table.read_text(encoding="ascii").splitlines()[1:]
    except (OSError, UnicodeError):
        return None
    for row in rows:
        fields = row.split()
        if len(fields) > 7 and _address(fields[1]) == peer and _address(fields[2]) == ours:
            return int(fields[7]) if fields[7].isdigit() else None
    return None


def from_another_account(peer: object, ours: object) -> bool:
    """True only when the connection is known to come from another local user than this process's."""
    if not (isinstance(peer, tuple) and isinstance(ours, tuple) and hasattr(os, "getuid")):
        return False
    uid = peer_uid((str(peer[0]), int(peer[1])), (str(ours[0]), int(ours[1])))
    return uid is not None and uid != os.getuid()
