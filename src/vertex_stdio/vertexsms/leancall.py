"""The hosted tools on the lean call path (``mcpio.leancalls``): answered without the SDK's server.

``correct_phone_number`` and ``get_mobile_prefixes`` are one exchange with the hosted VertexSMS
MCP server each, free and read-only.  ``HostedCalls`` runs them with what the SDK path runs
(``tools.hosted``: the same argument types, the same upstream session, the same result checks;
``results``: the same text, structured content and error envelope), and leaves to the SDK --
which then runs the call whole -- anything it is unsure of:

- arguments that are not exactly the tool's, or that its types refuse (the SDK words the error);
- no token at hand without a sign-in (a sign-in prompts through the request's SDK context), or
  a call that would prompt after all (``_NoPrompt``);
- a call its ``HostedTools`` cannot run here (``LeftToSdk``: the sandbox's in-process tools,
  for arguments the emulator's server would refuse);
- a failure that is not one of ours: a defect (the SDK reports a crash as it does for every
  tool, and the call is not lost to the defect; logged as a warning, so it is seen and fixed).

Running such a call twice is harmless: it costs nothing and changes nothing.  Billable tools
never come here, and were one to come, a failure after it may have gone out would be answered
as of unknown outcome, never handed to the SDK to run again (``_crashed``).  Nothing here
imports ``mcp``.

Nor ``pydantic``, on the way to a first answer (~60-80 ms of CPU, of a ~250 ms process): the
arguments and the hosted server's answer are checked by ``tools/numbercheck.py``, which accepts
only what the models certainly accept and gives the same payload, text and structured content.
What it is not sure of is the models' to decide, as before (pydantic loaded then): an argument
refused is refused in the SDK's words, an answer refused is the same "unexpected shape" error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vertex_stdio.core.credentials import NoTokenProvider, TokenProvider
from vertex_stdio.core.errors import AuthRequired, VertexError
from vertex_stdio.mcpio.leancalls import Prepared, Result
from vertex_stdio.vertexsms.api.outcomes import Operation, unavailable
from vertex_stdio.vertexsms.results import (
    SANDBOX_META,
    SANDBOX_NOTE,
    dumped_parts,
    error_text,
    result_parts,
)
from vertex_stdio.vertexsms.tools.hosted import (
    CORRECT,
    PREFIXES,
    HostedTools,
    ask_corrections,
    ask_prefixes,
)
from vertex_stdio.vertexsms.tools.numbercheck import (
    plain_correction,
    plain_country,
    plain_numbers,
    plain_prefixes,
)

log = logging.getLogger(__name__)
Parts = tuple[str, dict[str, Any]]  # a result's text and structured content (``results.result_parts``)


class _NeedsPrompt(Exception):
    """The call wants to prompt the person (a sign-in): the SDK runs it, with the request's context."""


class LeftToSdk(Exception):
    """A ``HostedTools`` cannot run this call here, and nothing went out: the SDK path runs it
    (the sandbox's in-process tools, for arguments the emulator's server would refuse)."""


class _NoPrompt:
    """The ``SignInPrompt`` of a lean call: it cannot reach the client, so it hands the call back."""

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        raise _NeedsPrompt

    async def offer_url(self, url: str, message: str) -> str:
        raise _NeedsPrompt


class HostedCalls:
    """``mcpio.leancalls.ToolCalls`` for the two hosted tools, over the server's own upstream."""

    def __init__(self, hosted: HostedTools, tokens: TokenProvider, *, sandbox: bool) -> None:
        self._hosted = hosted
        self._tokens = tokens
        self._sandbox = sandbox

    def prepare(self, name: str, arguments: dict[str, Any]) -> Prepared | None:
        if name == CORRECT.tool and set(arguments) == {"numbers"}:
            numbers = _numbers(arguments["numbers"])
            if numbers is None:
                return None  # the SDK words the refusal
            return lambda: self._answer(CORRECT, lambda: self._corrected(numbers))
        if name == PREFIXES.tool and set(arguments) == {"country"}:
            country = _country(arguments["country"])
            if country is None:
                return None
            return lambda: self._answer(PREFIXES, lambda: self._prefixes(country))
        return None

    async def _corrected(self, numbers: list[dict[str, Any]]) -> Parts:
        data = await ask_corrections(self._hosted, numbers, _NoPrompt())
        dump = plain_correction(data)
        if dump is not None:
            return dumped_parts(dump)
        from vertex_stdio.vertexsms.tools.numbermodels import CorrectionResult, validated

        return result_parts(validated(CorrectionResult, data, CORRECT))

    async def _prefixes(self, country: str) -> Parts:
        data = await ask_prefixes(self._hosted, country, _NoPrompt())
        dump = plain_prefixes(data)
        if dump is not None:
            return dumped_parts(dump)
        from vertex_stdio.vertexsms.tools.numbermodels import MobilePrefixesResult, validated

        return result_parts(validated(MobilePrefixesResult, data, PREFIXES))

    async def _answer(self, op: Operation, call: Callable[[], Awaitable[Parts]]) -> Result | None:
        """The result of ``op``'s call, its error as the SDK words it, or None: the SDK runs it."""
        try:
            if not await self._token_at_hand():
                return None
            parts = await call()  # how many at once is the wire's (``leancalls.Waiting``)
        except (AuthRequired, _NeedsPrompt):
            # a sign-in is wanted, before the call went out or after VertexSMS refused it (nothing
            # was done either way): only the SDK's request context can prompt for it
            return None
        except LeftToSdk:
            return None
        except VertexError as error:
            return self._error(op, error)
        except Exception as exc:  # noqa: BLE001 -- a defect must not lose the call (see _crashed)
            return self._crashed(op, exc)
        return self._success(parts)

    def _crashed(self, op: Operation, exc: Exception) -> Result | None:
        """A failure none of the above: a defect.  A call that costs and changes nothing goes to
        the SDK, which runs it again (it may have gone out: harmless) and reports a crash as it
        does for every tool.  One that costs or changes something may have gone out, so it is
        never run again: it is answered as of unknown outcome."""
        if op.costs_or_changes:
            log.error("%s failed on the lean call path; it is not sent again", op.tool, exc_info=exc)
            return self._error(op, unavailable(op, "The call failed inside vertex-stdio."))
        log.warning(
            "%s failed on the lean call path (%s); the SDK path runs it again",
            op.tool,
            type(exc).__name__,
            exc_info=exc,
        )
        return None

    def _error(self, op: Operation, error: VertexError) -> Result:
        text = error_text(op.tool, error, sandbox=self._sandbox)
        return {"content": [{"text": text, "type": "text"}], "isError": True}

    def _success(self, parts: Parts) -> Result:
        """As ``VertexServer._run_tool`` and ``_annotate`` write it (keys in the SDK's order)."""
        text, structured = parts
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


def _numbers(value: object) -> list[dict[str, Any]] | None:
    """What ``correct_phone_number`` sends for its ``numbers`` argument; None: its type refuses it."""
    sent = plain_numbers(value)
    if sent is not None:
        return sent
    from vertex_stdio.vertexsms.tools.numbermodels import checked_numbers  # not sure: the models decide

    return checked_numbers(value)


def _country(value: object) -> str | None:
    """``get_mobile_prefixes``'s ``country`` argument; None: its type refuses it."""
    country = plain_country(value)
    if country is not None:
        return country
    from vertex_stdio.vertexsms.tools.numbermodels import checked_country

    return checked_country(value)
