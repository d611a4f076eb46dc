"""``vertex-stdio call TOOL``: one tool call from a terminal, through the same server."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TextIO
from urllib.parse import urlsplit

import anyio
from mcp import Client
from mcp.types import CallToolResult, TextContent

from vertex_stdio.core.credentials import TokenProvider
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from vertex_stdio.core.launcher import command
from vertex_stdio.core.tasks import hosting
from vertex_stdio.mcpio.checks import bounded_int
from vertex_stdio.vertexsms.settings import Settings


def parse_arguments(
    pairs: Sequence[str], json_args: str | None, schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``--json '{...}'`` first, then each ``--arg k=v``, read as the tool's input ``schema`` says.

    A value whose property is text only (``string``, perhaps nullable) stays text, so
    ``--arg code=01234`` is the string ``"01234"``; any other is JSON when it parses, else text.
    """
    arguments: dict[str, Any] = {}
    if json_args:
        loaded = json.loads(json_args, parse_int=bounded_int)
        if not isinstance(loaded, dict):
            raise ValueError('--json must be a JSON object, e.g. \'{"country": "LT"}\'')
        arguments.update(loaded)
    properties = (schema or {}).get("properties", {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg takes key=value, got {pair!r}")
        if _text_only(properties.get(key)):
            arguments[key] = value
            continue
        try:
            arguments[key] = json.loads(value, parse_int=bounded_int)
        except ValueError:
            arguments[key] = value
    return arguments


def _types(schema: Any) -> set[str]:
    """The JSON types a property schema allows (through ``anyOf``/``oneOf``)."""
    if not isinstance(schema, Mapping):
        return set()
    kinds = schema.get("type")
    found = {kinds} if isinstance(kinds, str) else set(kinds) if isinstance(kinds, list) else set()
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            found |= _types(option)
    return found


def _text_only(schema: Any) -> bool:
    kinds = _types(schema)
    return "string" in kinds and kinds <= {"string", "null"}


def serve_hint(err: TextIO) -> None:
    """Tell a person who started ``serve`` by hand what it waits for and how to try it (each
    command printed here is run by tests/test_terminal_serve.py)."""
    from vertex_stdio.core.launcher import launcher

    me = launcher()
    err.write(
        "vertex-stdio is waiting for an MCP client on stdin: a desktop client starts it and speaks "
        "JSON-RPC to it, so there is nothing to type here. To try it from a terminal:\n"
        f"  {me} call get_sms_rates --sandbox --arg country=LT\n"
        f"  npx -y @modelcontextprotocol/inspector --cli {me} --sandbox --method tools/list\n"
        f"To add it to a client: {me} setup claude-desktop (or cursor, vscode, claude-code). "
        "Ctrl-C stops it.\n"
    )
    err.flush()


Upstream = Callable[[Settings], AbstractContextManager[tuple[Settings, TokenProvider]]]


def call_tool(
    settings: Settings, upstream: Upstream, tool: str, pairs: Sequence[str], json_args: str | None
) -> int:
    """Run the server in-process, call ``tool`` once, print the JSON result; 0 on success.

    ``upstream`` is the composition root's choice of VertexSMS (or the sandbox) and tokens, so
    a terminal call is routed and signed in exactly as the server's calls are.
    """
    try:
        parse_arguments(pairs, json_args)  # usage errors before anything starts
    except ValueError as exc:
        print(f"vertex-stdio call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return anyio.run(_call, settings, upstream, tool, pairs, json_args)


WAIT_NOTICE_SECONDS = 2.0


def _waiting_for(settings: Settings) -> str:
    """What a slow call waits for, by host: VertexSMS's REST and hosted MCP hosts, or the sandbox."""
    hosts = dict.fromkeys(urlsplit(url).netloc for url in (settings.api_url, settings.mcp_url))
    where = ", ".join(h for h in hosts if h)
    return f"the sandbox emulator ({where})" if settings.sandbox else f"VertexSMS ({where})"


class _Watch:
    """One tool call from a terminal that speaks while it waits and finishes a send on Ctrl-C.

    After ``WAIT_NOTICE_SECONDS`` with no answer it says on stderr what it waits for.  The
    first Ctrl-C stops a free call at once; a call that costs money or changes the account is
    finished (it may already be at VertexSMS) and its outcome said; a second Ctrl-C stops
    waiting and says the outcome is unknown, with the command that finds out.
    """

    def __init__(self, err: TextIO, waiting_for: str, billable: bool) -> None:
        self.err = err
        self.waiting_for = waiting_for
        self.billable = billable
        self.interrupts = 0
        self.result: CallToolResult | None = None

    def say(self, text: str) -> None:
        self.err.write(f"vertex-stdio call: {text}\n")
        self.err.flush()

    async def run(self, call: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult | None:
        """``call()``'s result, or None when Ctrl-C stopped it (``interrupts`` says how often)."""
        async with anyio.create_task_group() as tg:

            async def answer() -> None:
                self.result = await call()
                tg.cancel_scope.cancel()

            tg.start_soon(answer)
            tg.start_soon(self._speak_after_a_while)
            tg.start_soon(self._on_ctrl_c, tg.cancel_scope)
        return self.result

    async def _speak_after_a_while(self) -> None:
        await anyio.sleep(WAIT_NOTICE_SECONDS)
        self.say(f"waiting for {self.waiting_for}… (Ctrl-C stops)")

    async def _on_ctrl_c(self, scope: anyio.CancelScope) -> None:
        try:
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    self.interrupts += 1
                    if not self.billable or self.interrupts > 1:
                        scope.cancel()
                        return
                    self.say(
                        "finishing the send in flight… (it may already be at VertexSMS; "
                        "Ctrl-C again stops waiting, and its outcome is then unknown)"
                    )
        except NotImplementedError:  # no signal receivers on this loop (Windows): Ctrl-C as Python does
            return


async def _call(
    settings: Settings, upstream: Upstream, tool: str, pairs: Sequence[str], json_args: str | None
) -> int:
    from vertex_stdio.vertexsms.server import build_server

    with upstream(settings) as (effective, tokens):
        server = build_server(effective, tokens)
        try:
            async with hosting(tokens), Client(server, mode="legacy") as client:
                listed = {t.name: t for t in (await client.list_tools()).tools}
                found = listed.get(tool)
                arguments = parse_arguments(pairs, json_args, found.input_schema if found else None)
                annotations = found.annotations if found else None
                billable = annotations is not None and annotations.read_only_hint is False
                watch = _Watch(sys.stderr, _waiting_for(effective), billable)
                result = await watch.run(lambda: client.call_tool(tool, arguments))
                if result is None:
                    return _stopped(watch, tool)
        finally:
            await tokens.aclose()
    code = _print_result(result)
    if watch.interrupts:
        watch.say(_outcome(tool, result))
        return EXIT_INTERRUPTED
    return code


def _print_result(result: CallToolResult) -> int:
    if result.is_error:
        text = "".join(c.text for c in result.content if isinstance(c, TextContent))
        print(text)  # stdout-ok: the envelope, for scripts
        return EXIT_FIXABLE
    print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))  # stdout-ok
    for block in result.content[1:]:
        if isinstance(block, TextContent):
            print(block.text, file=sys.stderr)
    return EXIT_OK


def _outcome(tool: str, result: CallToolResult) -> str:
    """After Ctrl-C, what became of the call that was finished: sent with its id, refused, or unknown."""
    if not result.is_error:
        done = result.structured_content or {}
        ids = [
            f"{key.replace('_', ' ')} {done[key]}"
            for key in ("message_id", "sender_id", "lookup_id")
            if key in done
        ]
        return f"stopped after {tool} finished: sent, {', '.join(ids) or 'see above'}."
    text = "".join(c.text for c in result.content if isinstance(c, TextContent))
    try:
        error = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        error = {}
    if error.get("outcome") == "unknown":
        return f"stopped; the outcome of {tool} is UNKNOWN. `{command('history --pending')}` lists it with how to check."
    return f"stopped after {tool} finished: not done ({error.get('code', 'an error')}, see above)."


def _stopped(watch: _Watch, tool: str) -> int:
    """Ctrl-C ended the call before it answered."""
    if watch.billable:
        watch.say(
            f"stopped waiting; the outcome of {tool} is UNKNOWN (it may have reached VertexSMS). "
            f"`{command('history --pending')}` lists it with how to check."
        )
        # The send runs shielded until VertexSMS answers or its timeout ends, and its record says
        # pending meanwhile; the person asked to stop waiting, so nothing more is waited for.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    watch.say(f"stopped; {tool} changes nothing, so nothing is left behind.")
    return EXIT_INTERRUPTED
