"""Every HTTP call the OAuth client makes, over one ``httpx2.AsyncClient``; errors translated here.

The client is the HTTP edge's (core/http.py: pool, proxies, TLS), with a smaller answer cap
(``MAX_BODY``).  Redirects are never followed (discovery treats a 3xx as "try the next URL").
A whole request (connect, headers, body) runs within one deadline: a server that drips bytes,
each within the read timeout, cannot hold a sign-in for longer.  Every URL passes the
``UrlPolicy`` first (https, no private or metadata addresses), whoever named it.  Foreign
exceptions become ``UpstreamUnavailable`` (retryable) or ``OAuthFailed`` (the server said no),
whose text never contains what we sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import httpx2

from vertex_stdio import __version__
from vertex_stdio.core.calls import AnswerTooLarge
from vertex_stdio.core.errors import UpstreamError, UpstreamUnavailable
from vertex_stdio.core.http import make_client
from vertex_stdio.oauth.protocol.core import safe_error_code, scrub
from vertex_stdio.oauth.protocol.urlpolicy import UrlPolicy

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
DEADLINE_SLACK = 5.0
"""A request's deadline is the read timeout plus this (as for the REST calls)."""
_HEADERS = {"Accept": "application/json", "User-Agent": f"vertex-stdio/{__version__}"}


class OAuthFailed(UpstreamError):
    """The authorization server answered an OAuth error (``error`` holds its code)."""

    def __init__(self, message: str, *, error: str | None, status: int) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class OAuthHttp:
    """The OAuth client's HTTP edge: JSON GETs for discovery, form POSTs, JSON POSTs."""

    def __init__(
        self, *, timeout: float, policy: UrlPolicy, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self._deadline = timeout + DEADLINE_SLACK
        self.policy = policy
        self._client = make_client(
            timeout=timeout,
            transport=transport,
            headers=_HEADERS,
            max_connections=10,
            kept=4,
            max_answer=MAX_BODY,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def get_json(self, url: str) -> tuple[int, Any]:
        """GET ``url``: (200, JSON body) or (status, None) for 3xx/4xx; 5xx and failures raise."""
        response = await self._send("GET", url, who="the sign-in discovery")
        if response.status_code >= 500:
            raise UpstreamUnavailable(
                f"{url} answered HTTP {response.status_code}; the sign-in server is having trouble. "
                "Try again in a minute."
            )
        if response.status_code != 200:
            return response.status_code, None
        return 200, _json(response.content)

    async def probe(self, url: str, *, who: str = "the MCP server") -> str | None:
        """Send ``url`` an MCP ``initialize`` without a token; the ``WWW-Authenticate`` of a 401, else None.

        A POST, as every MCP client's first request is; a GET (the 2024-11-05 transport's) only
        when the POST is refused outright.  Only the status and headers are read, never a body: an
        event stream that never ends cannot hold the probe.
        """
        await self.policy.check(f"URL of {who}", url)
        status, challenge = await self._headers(url, who, post=True)
        if status in (404, 405, 501):
            status, challenge = await self._headers(url, who, post=False)
        return challenge if status == 401 else None

    async def _headers(self, url: str, who: str, *, post: bool) -> tuple[int, str | None]:
        request = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "vertex-stdio", "version": __version__},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        try:
            with anyio.fail_after(self._deadline):
                async with self._client.stream(
                    "POST" if post else "GET", url, headers=headers, json=request if post else None
                ) as response:
                    return response.status_code, response.headers.get("www-authenticate")
        except (httpx2.TimeoutException, TimeoutError) as exc:
            raise UpstreamUnavailable(f"{who} at {url} did not answer in time. Try again.") from exc
        except httpx2.HTTPError as exc:
            raise UpstreamUnavailable(
                f"Could not reach {who} at {url} ({type(exc).__name__}). Check your network and try again."
            ) from exc

    async def post_json(self, url: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """POST JSON (client registration); returns the status and the JSON answer (or None)."""
        response = await self._send("POST", url, who="client registration", json=dict(body))
        if response.status_code >= 500:
            raise UpstreamUnavailable(
                f"Client registration at {url} answered HTTP {response.status_code}. Try again in a minute."
            )
        return response.status_code, _json(response.content)

    async def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        secrets: Iterable[str | None],
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST a form to a token-type endpoint; the JSON answer on 2xx, else ``OAuthFailed``.

        A 5xx or ``temporarily_unavailable`` raises ``UpstreamUnavailable`` (nothing was spent).
        ``secrets`` are the values sent; they are scrubbed from any text we keep from the answer.
        ``headers`` carry client authentication (HTTP Basic) when the client has a secret.
        """
        extra = {"headers": dict(headers)} if headers else {}
        response = await self._send("POST", url, who="the sign-in server", data=dict(data), **extra)
        body = _json(response.content)
        if 200 <= response.status_code < 300:
            return body
        error = safe_error_code(body.get("error")) if isinstance(body, dict) else None
        if response.status_code >= 500 or error in ("temporarily_unavailable", "server_error"):
            raise UpstreamUnavailable(
                f"The sign-in server could not answer just now (HTTP {response.status_code}). "
                "Your sign-in is kept; try again in a minute."
            )
        described = body.get("error_description") if isinstance(body, dict) else None
        detail = f": {scrub(described, secrets)}" if isinstance(described, str) else ""
        raise OAuthFailed(
            f"The sign-in server refused the request ({error or 'HTTP ' + str(response.status_code)}{detail}).",
            error=error,
            status=response.status_code,
        )

    async def _send(self, method: str, url: str, *, who: str, **kwargs: Any) -> httpx2.Response:
        await self.policy.check(f"URL of {who}", url)
        try:
            with anyio.fail_after(self._deadline):
                async with self._client.stream(method, url, **kwargs) as response:
                    await response.aread()
                    return response
        except AnswerTooLarge as exc:
            raise UpstreamError(f"{who} at {url} sent an oversized answer; sign-in stopped.") from exc
        except (httpx2.TimeoutException, TimeoutError) as exc:
            raise UpstreamUnavailable(f"{who} at {url} did not answer in time. Try again.") from exc
        except httpx2.HTTPError as exc:
            log.debug("OAuth request failed: %s", type(exc).__name__)
            raise UpstreamUnavailable(
                f"Could not reach {who} at {url} ({type(exc).__name__}). Check your network and try again."
            ) from exc


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
