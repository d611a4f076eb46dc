"""One stdin line checked as the SDK reads it: the JSON-RPC message, or the reason it is refused.

``check_line`` validates with the SDK's own message models, once; a line the SDK would take
some other way than JSON-RPC means (a request whose id is not a string or a number, a number
beyond every bound) is refused or read here, so each gets its JSON-RPC answer.
"""

from __future__ import annotations

import json
import math
from contextlib import suppress
from typing import Any

from mcp.types import JSONRPCMessage, JSONRPCNotification, RequestId, jsonrpc_message_adapter

from vertex_stdio.mcpio.lines import INVALID_REQUEST, PARSE_ERROR, Rejected, unicode, writable

SURROGATE = (
    "Invalid Request: the message holds a lone surrogate escape (\\ud800-\\udfff without its "
    "pair), which is not Unicode; it was not run."
)
MAX_INT_DIGITS = 4300  # Python's default int-to-str limit (sys.get_int_max_str_digits())


def check_line(line: bytes) -> JSONRPCMessage | Rejected | None:
    """The line's message (validated), the reason it is refused, or None for a blank line."""
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError:
        guess = _parsed(line.decode("utf-8", errors="replace"))
        return Rejected(PARSE_ERROR, "Parse error: the message is not valid UTF-8.", _id_of(guess))
    if not text:
        return None
    try:
        message = jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError:  # pydantic's ValidationError is a ValueError
        pass
    else:
        # The SDK reads a request whose id is neither a string nor a number as a notification
        # (never answered); JSON-RPC calls it an invalid request.
        if isinstance(message, JSONRPCNotification) and '"id"' in text and "id" in (_parsed(text) or {}):
            return Rejected(INVALID_REQUEST, "Invalid Request: the id must be a string or an integer.")
        return message
    huge: list[str] = []
    parsed = _parsed(text, huge)
    if parsed is None:
        return Rejected(PARSE_ERROR, "Parse error: the message is not JSON.")
    if not unicode(parsed):  # the SDK's parser refuses it, and an id holding one cannot be written back
        return Rejected(INVALID_REQUEST, SURROGATE, _id_of(parsed))
    if isinstance(parsed, dict) and huge:
        with suppress(ValueError):
            # Valid JSON that pydantic's parser refused for a number beyond its range (4,301
            # digits and more, which _parsed reads as an infinity): the tool's own check answers it.
            message = jsonrpc_message_adapter.validate_python(parsed, by_name=False)
            if not isinstance(message, JSONRPCNotification) or "id" not in parsed:
                return message
    if isinstance(parsed, list):
        return Rejected(
            INVALID_REQUEST, "Invalid Request: batches are not supported; send one message per line."
        )
    return Rejected(INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message.", _id_of(parsed))


def _parsed(text: str, huge: list[str] | None = None) -> Any:
    """The JSON value of ``text``, or None.  A number beyond every bound (an integer of over 4,300
    digits, which ``int()`` refuses as quadratic work, or a float past 1e308) becomes an infinity
    of its sign, and is noted in ``huge``."""

    def number(digits: str) -> int | float:
        value = bounded_int(digits) if digits.lstrip("-").isdigit() else float(digits)
        if huge is not None and isinstance(value, float) and math.isinf(value):
            huge.append(digits[:20])
        return value

    try:
        return json.loads(text, parse_int=number, parse_float=number)
    except (ValueError, RecursionError):
        return None


def bounded_int(digits: str) -> int | float:
    """``json.loads``'s ``parse_int``: ``int(digits)``, or an infinity past ``MAX_INT_DIGITS``."""
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        return float("-inf") if digits.startswith("-") else float("inf")
    return int(digits)


def _id_of(message: Any) -> RequestId | None:
    """The message's id, when it is one a response can carry (a string or an integer)."""
    found = message.get("id") if isinstance(message, dict) else None
    if isinstance(found, str) or (isinstance(found, int) and not isinstance(found, bool)):
        return writable(found)
    return None
