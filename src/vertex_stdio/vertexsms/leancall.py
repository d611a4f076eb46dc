"""The hosted tools on the lean call path (``mcpio.leancalls``): answered without the SDK's server.

``correct_phone_number`` and ``get_mobile_prefixes`` are one exchange with the hosted VertexSMS
MCP server each, free and read-only.  ``HostedCalls`` runs them with what the SDK path runs
(``tools.hosted``: the same argument types, the same upstream session, the same result checks;
``results``: the same text, structured content and error envelope), and leaves to the SDK --
which then runs the call whole -- anything it is unsure of:

- arguments that are not exactly the tool's, or that its types refuse (the SDK words the error);
- no token at hand without a sign-in (a sign-in prompts through the request's SDK context), or
  a call that would prompt after all (``_NoPrompt``);
- a failure that is not one of ours (the SDK reports a crash as it does for every tool).

Running such a call twice is harmless: it costs nothing and changes nothing.  Billable tools
never come here.  Nothing here imports ``mcp``.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from pydantic import BaseModel, TypeAdapter, ValidationError

from vertex_stdio.core.credentials import NoTokenProvider, TokenProvider
from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.mcpio.leancalls import Prepared, Result
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.results import SANDBOX_META, SANDBOX_NOTE, error_text, result_parts
from vertex_stdio.vertexsms.tools.hosted import (
    CORRECT,
    PREFIXES,
    NumbersToCorrect,
    corrected_numbers,
    mobile_prefixes,
)
from vertex_stdio.vertexsms.tools.numbermodels import CountryCode

log = logging.getLogger(__name__)

# Hosted calls on their way at once; a burst beyond waits its turn.  The hosted server answers a
# burst no sooner for more at once, and each costs memory and CPU while it waits on the pool
# (200 at once from benchmarks/: unbounded 90.5 MB peak and 1.5 s CPU, 16 at once 85 MB and 1.25 s).
AT_ONCE = 16
_NUMBERS: TypeAdapter[Any] = TypeAdapter(NumbersToCorrect)
_COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)


class _NeedsPrompt(Exception):
    """The call wants to prompt the person (a sign-in): the SDK runs it, with the request's context."""


class _NoPrompt:
    """The ``SignInPrompt`` of a lean call: it cannot reach the client, so it hands the call back."""

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        raise _NeedsPrompt

    async def offer_url(self, url: str, message: str) -> str:
        raise _NeedsPrompt


class HostedCalls:
    """``mcpio.leancalls.ToolCalls`` for the two hosted tools, over the server's own upstream."""

    def __init__(self, hosted: HostedMcpUpstream, tokens: TokenProvider, *, sandbox: bool) -> None:
        self._hosted = hosted
        self._tokens = tokens
        self._sandbox = sandbox
        self._at_once: anyio.Semaphore | None = None  # made on the event loop, at the first call

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        try:
            if name == CORRECT.tool and set(arguments) == {"numbers"}:
                numbers = _NUMBERS.validate_python(arguments["numbers"])
                return lambda: self._answer(
                    CORRECT.tool, corrected_numbers(self._hosted, numbers, _NoPrompt())
                )
            if name == PREFIXES.tool and set(arguments) == {"country"}:
                country = _COUNTRY.validate_python(arguments["country"])
                return lambda: self._answer(
                    PREFIXES.tool, mobile_prefixes(self._hosted, country, _NoPrompt())
                )
        except ValidationError:
            return None  # the SDK words the refusal
        return None

    async def _answer(self, name: str, call: Any) -> Result | None:
        try:
            if not await self._token_at_hand():
                call.close()
                return None
            self._at_once = self._at_once or anyio.Semaphore(AT_ONCE)
            async with self._at_once:
                result: BaseModel = await call
        except AuthRequired:
            return None
        except VertexError as error:
            text = error_text(name, error, sandbox=self._sandbox)
            return {"content": [{"text": text, "type": "text"}], "isError": True}
        except Exception:
            log.debug("%s: left to the SDK", name, exc_info=True)
            return None
        return self._success(result)

    def _success(self, result: BaseModel) -> Result:
        """As ``VertexServer._run_tool`` and ``_annotate`` write it (keys in the SDK's order)."""
        text, structured = result_parts(result)
        content = [{"text": text, "type": "text"}]
        if not self._sandbox:
            return {"content": content, "isError": False, "structuredContent": structured}
        content.append({"text": SANDBOX_NOTE, "type": "text"})
        return {
            "_meta": {SANDBOX_META: True},
            "content": content,
            "isError": False,
            "structuredContent": structured,
        }

    async def _token_at_hand(self) -> bool:
        """Whether a call can be made without a sign-in: a static or kept token, or one the
        provider has without a browser."""
        if isinstance(self._tokens, NoTokenProvider):
            return False
        silent = getattr(self._tokens, "silent_token", None)
        if silent is None:
            return True
        try:
            return await silent() is not None
        except AuthRequired:
            return False
