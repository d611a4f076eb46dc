"""The token seam: upstreams ask a ``TokenProvider`` for a token and tell it about rejections.

Upstreams never know where a token comes from (a pasted API token, the sandbox, or an
OAuth sign-in with refresh).  A provider raises ``AuthRequired`` when it has nothing to
offer, and may run an interactive sign-in while a tool call waits; the call passes a
``SignInPrompt`` so the provider can report progress and show the sign-in URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vertex_stdio.core.errors import AuthRequired


@dataclass(frozen=True)
class Challenge:
    """What a ``WWW-Authenticate`` header on a 401/403 said (RFC 6750, RFC 9728)."""

    error: str | None = None
    scopes: tuple[str, ...] = ()
    resource_metadata: str | None = None


class SignInPrompt(Protocol):
    """What a waiting tool call can do for the person while a sign-in runs."""

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        """Report that the sign-in is still waiting (an MCP progress notification)."""

    async def offer_url(self, url: str, message: str) -> str:
        """Show the sign-in URL through the client, when it can (URL-mode elicitation).

        Returns the person's answer, ``accept``, ``decline`` or ``cancel``, or ``unsupported``
        when the client cannot show a link.  It may not return until the person answers the
        client's prompt: run it beside the sign-in wait, never in front of it.
        """


class TokenProvider(Protocol):
    """Where upstreams get their token, and where they report its rejection."""

    @property
    def source(self) -> str:
        """A short name for status output: ``api-token``, ``sandbox``, ``oauth`` or ``none``."""

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        """A token good for ``scopes``; raises ``AuthRequired`` when none can be had."""

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        """Called after a 401 (or a 403 ``insufficient_scope``) for ``token``.

        Returns True when a different token may now be available, so the caller may
        retry the request once; False when retrying cannot help.
        """

    async def aclose(self) -> None:
        """Release what the provider holds (HTTP clients, locks) at shutdown."""


class StaticTokenProvider:
    """A token given once (pasted by the user, or an emulator's own) and never renewed."""

    def __init__(self, token: str, source: str = "api-token") -> None:
        self._token = token
        self._source = source

    def __repr__(self) -> str:
        return f"StaticTokenProvider(source={self._source!r})"

    @property
    def source(self) -> str:
        return self._source

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        return self._token

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        return False

    async def aclose(self) -> None:
        return None


class NoTokenProvider:
    """No way to get a token: every call answers ``AUTH_REQUIRED`` with ``message`` (how to get one)."""

    source = "none"

    def __init__(
        self, message: str = "You are not signed in, so this call was not made. Sign in, then try again."
    ) -> None:
        self._message = message

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        raise AuthRequired(self._message)

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        return False

    async def aclose(self) -> None:
        return None


_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str | None) -> Challenge:
    """Parse a ``WWW-Authenticate: Bearer ...`` header; unknown or empty input gives ``Challenge()``."""
    if not header:
        return Challenge()
    params: dict[str, str] = {}
    for match in _PARAM.finditer(header[:8192]):
        name = match.group(1).lower()
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params.setdefault(name, value.replace('\\"', '"'))
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    return Challenge(
        error=params.get("error") or None,
        scopes=scopes,
        resource_metadata=params.get("resource_metadata") or None,
    )
