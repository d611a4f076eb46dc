"""The hosted VertexSMS MCP server, reached over one kept Streamable HTTP session.

Two tools have no documented REST endpoint (``correct_phone_number`` and
``get_mobile_prefixes``), so they are forwarded as MCP ``tools/call`` through
``mcp_http.McpHttpSession`` (one POST per call; why not the SDK's ``Client``: see
benchmarks/README.md).  One session and one pooled HTTP client are kept for the process
and shared by concurrent calls; a session the server ended (a 404 to its id: the call was not
run) is opened again, a read sent once more on it, a call that costs or changes something never
(``outcome: refused``, call it again); a read that lost its connection is tried once more within
the same deadline.  HTTP outcomes (401,
403, 429, 5xx, refused connections, oversized answers) are observed per call by a transport
call's ``CallRecord`` at the HTTP edge (core/calls.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import anyio
import httpx2

from vertex_stdio import __version__
from vertex_stdio.core.calls import MAX_ANSWER_BYTES, AnswerTooLarge, BearerAuth, CallRecord, recording
from vertex_stdio.core.credentials import SignInPrompt, TokenProvider
from vertex_stdio.core.errors import UpstreamError, UpstreamUnavailable, VertexError, error_from_envelope
from vertex_stdio.core.http import make_client
from vertex_stdio.core.redact import clip
from vertex_stdio.mcpio.mcp_http import (
    CONNECTION_CLOSED,
    AnswerLost,
    McpHttpError,
    McpHttpSession,
    RpcError,
    SessionLost,
)
from vertex_stdio.vertexsms.api.outcomes import Operation, error_for_status, unavailable, without_sent

log = logging.getLogger(__name__)


class HostedMcpUpstream:
    """Forwards tool calls to the hosted VertexSMS MCP server over one kept session."""

    def __init__(
        self,
        url: str,
        tokens: TokenProvider,
        *,
        timeout: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._tokens = tokens
        self._timeout = timeout
        self._transport = transport
        self._http: httpx2.AsyncClient | None = None
        self._session: McpHttpSession | None = None

    async def call_tool(
        self, op: Operation, arguments: dict[str, Any], prompt: SignInPrompt | None = None
    ) -> dict[str, Any]:
        """Call ``op.tool`` remotely; return its structured result or raise the contract's error."""
        await self._tokens.token([op.scope], prompt)  # sign in here, not inside the transport
        record = CallRecord(scopes=(op.scope,), prompt=prompt, budget=self._timeout)
        ends = anyio.current_time() + self._timeout  # one deadline for the call and its retry
        params = {"name": op.tool, "arguments": arguments}
        reopened = retried = False  # at most one new session and one more read: three POSTs
        try:
            while True:
                try:
                    with recording(record), anyio.fail_after(max(0.0, ends - anyio.current_time())) as scope:
                        record.deadline = scope  # a sign-in while renewing restarts it
                        result = await self._connected().request("tools/call", params)
                    return tool_result_data(op, result, record.sent)
                except (
                    RpcError,
                    McpHttpError,
                    SessionLost,
                    httpx2.HTTPError,
                    AnswerTooLarge,
                    OSError,
                ) as exc:
                    ends = scope.deadline
                    error = _error_from(op, record, exc)
                    if anyio.current_time() >= ends:
                        raise error from exc
                    if isinstance(exc, SessionLost) and not reopened and not op.costs_or_changes:
                        reopened = True  # the server no longer knew the session: the read was not run
                    elif not op.costs_or_changes and not retried and _worth_reconnecting(record, exc):
                        retried = True  # only reads are tried again after a lost connection or stream
                    else:
                        raise error from exc
                    log.info("%s: hosted MCP session or connection lost; trying once more", op.tool)
                    record.forget_answer()
        except VertexError as error:
            without_sent(error, record.sent)  # an upstream may quote the token it rejected
            raise

    def _connected(self) -> McpHttpSession:
        """The kept session, its HTTP client built on first use (that loads the TLS trust store)."""
        if self._session is None:
            self._http = make_client(
                timeout=self._timeout,
                transport=self._transport,
                auth=BearerAuth(self._tokens),
                headers={"User-Agent": f"vertex-stdio/{__version__}"},
            )
            self._session = McpHttpSession(
                self._url, self._http, {"name": "vertex-stdio", "version": __version__}
            )
        return self._session

    async def aclose(self) -> None:
        """End the session and close the connections (at shutdown)."""
        session, http = self._session, self._http
        self._session, self._http = None, None
        with anyio.CancelScope(shield=True):
            if session is not None:
                await session.close()
            if http is not None:
                await http.aclose()


def _worth_reconnecting(record: CallRecord, exc: BaseException) -> bool:
    """A dropped connection, a session closing under the call or a failing server is worth one
    more try; a refusal or an answer is not."""
    if record.status is not None and record.status < 500:
        return False
    if isinstance(exc, RpcError) and record.failure is None:
        return _session_closed(exc)
    return True


def _session_closed(exc: RpcError) -> bool:
    """The SDK server's answer to calls in flight when their session ends (``-32000`` alone is
    any server error: the words decide)."""
    return exc.code == CONNECTION_CLOSED and exc.message.strip().lower() == "connection closed"


def _error_from(op: Operation, record: CallRecord, exc: BaseException) -> VertexError:
    if isinstance(exc, SessionLost) and op.costs_or_changes:  # a 404 to our session id: not run
        return UpstreamUnavailable(
            "The hosted VertexSMS MCP server ended the session (HTTP 404 to its id: a restart or "
            f"an expiry), so {op.what} was NOT made, and it was not sent again by itself. Call it "
            "again: a new session opens.",
            outcome="refused",
            retryable=True,
        )
    if isinstance(exc, SessionLost):  # a read: sent once more on a new session, then this
        return unavailable(op, "The hosted VertexSMS MCP server ended the session.", reached=False)
    if record.status is not None:
        return error_for_status(op, record.status, record.headers, b"")
    if record.oversized:
        return UpstreamError(
            f"The hosted VertexSMS MCP server's answer is larger than {MAX_ANSWER_BYTES // 1_048_576} MiB; "
            "it was not read. Try again later."
        )
    if isinstance(exc, VertexError):
        return exc
    if isinstance(exc, AnswerLost):
        return unavailable(op, "The hosted VertexSMS MCP server ended the call's stream without answering.")
    if isinstance(exc, McpHttpError) and record.failure is None:
        return UpstreamError(
            f"The hosted VertexSMS MCP server's answer could not be used ({clip(str(exc), 300, record.sent)}). "
            "Try again later."
        )
    if record.failure is not None or not isinstance(exc, RpcError):
        failure = record.failure or exc
        if isinstance(failure, httpx2.TimeoutException | TimeoutError):
            return unavailable(op, "The hosted VertexSMS MCP server did not answer in time.")
        return unavailable(
            op, f"The hosted VertexSMS MCP server could not be reached ({type(failure).__name__})."
        )
    if exc.code == -32001 or "timed out" in exc.message.lower():
        return unavailable(op, "The hosted VertexSMS MCP server did not answer in time.")
    if _session_closed(exc):
        return unavailable(op, "The hosted VertexSMS MCP server closed the session during the call.")
    return UpstreamError(
        f"The hosted VertexSMS MCP server failed the call: {clip(exc.message, 200, record.sent)}"
    )


def tool_result_data(op: Operation, result: dict[str, Any], sent: Sequence[str]) -> dict[str, Any]:
    """A ``tools/call`` result's data, or its error as ours (redacted before it is clipped);
    ``sent``: the tokens sent with the call.  Also the sandbox's in-process answers'
    (``sandbox/inprocess.py``), so they read a result as this upstream reads the emulator's."""
    blocks = result.get("content")
    texts = (
        [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        if isinstance(blocks, list)
        else []
    )
    text = "".join(t for t in texts if isinstance(t, str))
    if result.get("isError"):
        raise _envelope_error(text) or UpstreamError(
            f"The hosted VertexSMS MCP server reported an error: {clip(text, 300, sent)}"
        )
    if isinstance(result.get("structuredContent"), dict):
        structured: dict[str, Any] = result["structuredContent"]
        return structured
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    raise UpstreamError(f"The hosted VertexSMS MCP server gave {op.tool} an answer without data.")


def _envelope_error(text: str) -> VertexError | None:
    """The hosted server's envelope as our error, if the text holds one."""
    try:
        body = json.loads(text[text.find("{") :]) if "{" in text else None
    except ValueError:
        return None
    return error_from_envelope(body)
