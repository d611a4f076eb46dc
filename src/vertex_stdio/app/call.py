"""``vertex-stdio call TOOL``: one tool call from a terminal, through the same server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TextIO

import anyio
from mcp import Client
from mcp.types import TextContent

from vertex_stdio.core.credentials import TokenProvider
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE
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
        loaded = json.loads(json_args)
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
            arguments[key] = json.loads(value)
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


async def _call(
    settings: Settings, upstream: Upstream, tool: str, pairs: Sequence[str], json_args: str | None
) -> int:
    from vertex_stdio.vertexsms.server import build_server

    with upstream(settings) as (effective, tokens):
        server = build_server(effective, tokens)
        try:
            async with Client(server, mode="legacy") as client:
                schemas = {t.name: t.input_schema for t in (await client.list_tools()).tools}
                arguments = parse_arguments(pairs, json_args, schemas.get(tool))
                result = await client.call_tool(tool, arguments)
        finally:
            await tokens.aclose()
    if result.is_error:
        text = "".join(c.text for c in result.content if isinstance(c, TextContent))
        print(text)  # stdout-ok: the envelope, for scripts
        return EXIT_FIXABLE
    print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))  # stdout-ok
    for block in result.content[1:]:
        if isinstance(block, TextContent):
            print(block.text, file=sys.stderr)
    return EXIT_OK
