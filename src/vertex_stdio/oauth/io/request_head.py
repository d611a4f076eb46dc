"""A request head as the loopback servers read it (the sign-in receiver, the approval pages):
its request line, its headers, and the cookie and ``Host`` checks both make.  Pure: no I/O (the
listener reads the head, ``LoopbackListener.read_head``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RequestHead:
    """``METHOD TARGET VERSION`` and the headers (names lower-cased, values stripped; the last
    of a repeated header wins)."""

    method: str
    target: str
    headers: Mapping[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def cookie(self, name: str) -> str | None:
        """The value of the cookie ``name``; None when the browser sent none by that name."""
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def for_port(self, port: int) -> bool:
        """Whether it is addressed to ``127.0.0.1:port`` exactly (a rebound DNS name is not)."""
        return self.headers.get("host") == f"127.0.0.1:{port}"


def parse_head(head: bytes) -> RequestHead | None:
    """The head read up to its blank line; None when its request line has not three parts."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, _ = parts
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    return RequestHead(method, target, headers)
