"""A scripted hosted VertexSMS MCP server (Streamable HTTP, plain ASGI) for the lean call path's tests.

``get_mobile_prefixes``'s ``country`` picks what the server does (``BEHAVIOURS``): a good
answer, an event stream, a tool error, a JSON-RPC error, an HTTP error status, a lost
session, an oversized or slow answer, an answer of the wrong shape.  ``correct_phone_number``
echoes its numbers.  Each session is its own: two processes see the same script.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import anyio

TOKEN = "tok-lean-0123456789abcdef"  # the API token the processes send (and one answer quotes)

BEHAVIOURS = {
    "LT": "good",
    "PL": "event stream",
    "EE": "tool error envelope",
    "LV": "tool error quoting the token",
    "FR": "JSON-RPC error",
    "IT": "JSON-RPC connection closed",
    "FI": "HTTP 500",
    "HU": "HTTP 429",
    "GR": "HTTP 401",
    "SE": "session lost once",
    "NO": "oversized answer",
    "DK": "slower than the timeout",
    "DE": "wrong shape",
    "ES": "no data",
    "CZ": "slow but in time",
    "AT": "held until released",
    "BE": "good, plain",  # no float: the lean path checks it without the models (numbercheck)
}


def _prefixes(country: str) -> dict[str, Any]:
    return {
        "country": country,
        "prefixes": [{"prefix": "37061", "operator": 'Telia ✓ "Lietuva"', "mcc": "246", "mnc": "01"}],
        "country_name": "Lietuva\u2028ü",
        "calling_code": "370",
        "ratio": 1e16,
        "tiny": 5e-324,
    }


class HostedScript:
    """The ASGI app; ``calls`` counts the tools/call requests it received, ``most_at_once`` the
    most it held at one time (received, their answer not yet started)."""

    def __init__(self) -> None:
        self.calls = 0
        self.at_once = 0  # tools/call requests being answered now
        self.most_at_once = 0
        self.lost: set[str] = set()
        self.release = threading.Event()  # "held until released" answers once it is set

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if scope["method"] != "POST":
            await _respond(send, 200, b"")
            return
        request = json.loads(body)
        if "id" not in request:
            await _respond(send, 202, b"")
            return
        if request["method"] == "initialize":
            result = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "s", "version": "1"},
            }
            sid = uuid.uuid4().hex
            await _respond(send, 200, _answer(request, result), {"mcp-session-id": sid})
            return
        self.calls += 1
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        answering = False

        async def answer(message: dict[str, Any]) -> None:
            nonlocal answering
            if not answering:  # counted until its answer starts: the client cannot send again sooner
                answering = True
                self.at_once -= 1
            await send(message)

        await self._call(request, headers.get("mcp-session-id", ""), answer)

    async def _call(self, request: dict[str, Any], sid: str, send: Any) -> None:
        params = request["params"]
        arguments = params["arguments"]
        if params["name"] == "correct_phone_number":
            results = [
                {
                    "input_number": n["number"],
                    "country": n["country"],
                    "number_type": "mobile",
                    "mobile": True,
                    "number_e164": "+370" + n["number"][-8:],
                    "error": None,
                }
                for n in arguments["numbers"]
            ]
            await _respond(send, 200, _tool_result(request, {"count": len(results), "results": results}))
            return
        behaviour = BEHAVIOURS.get(arguments["country"], "good")
        if behaviour == "event stream":
            note = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": "info", "data": "x"},
                }
            )
            events = f"data: {note}\n\ndata: {_tool_result(request, _prefixes('PL')).decode()}\n\n"
            await _respond(send, 200, events.encode(), {"content-type": "text/event-stream"})
        elif behaviour == "tool error envelope":
            envelope = {
                "error": {"code": "INVALID_INPUT", "message": "No such country here.", "retryable": False}
            }
            await _respond(send, 200, _answer(request, _text_error(json.dumps(envelope))))
        elif behaviour == "tool error quoting the token":
            await _respond(send, 200, _answer(request, _text_error(f"token {TOKEN} is not allowed: ünï")))
        elif behaviour == "JSON-RPC error":
            await _respond(
                send,
                200,
                json.dumps(
                    {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32602, "message": "bad ✓"}}
                ).encode(),
            )
        elif behaviour == "JSON-RPC connection closed":
            await _respond(
                send,
                200,
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": request["id"],
                        "error": {"code": -32000, "message": "Connection closed"},
                    }
                ).encode(),
            )
        elif behaviour.startswith("HTTP "):
            status = int(behaviour[5:])
            await _respond(send, status, b'{"error": "no"}', {"retry-after": "7"} if status == 429 else {})
        elif behaviour == "session lost once" and sid not in self.lost:
            self.lost.add(sid)
            await _respond(send, 404, b"")
        elif behaviour == "oversized answer":
            await _respond(send, 200, b'{"jsonrpc": "2.0", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
        elif behaviour == "slower than the timeout":
            await anyio.sleep(4)
            await _respond(send, 200, _tool_result(request, _prefixes("DK")))
        elif behaviour == "slow but in time":
            await anyio.sleep(1.5)
            await _respond(send, 200, _tool_result(request, _prefixes("CZ")))
        elif behaviour == "held until released":
            while not self.release.is_set():
                await anyio.sleep(0.02)
            await _respond(send, 200, _tool_result(request, _prefixes("AT")))
        elif behaviour == "good, plain":
            plain = {k: v for k, v in _prefixes("BE").items() if not isinstance(v, float)}
            plain["prefixes"] = [{"mnc": "01", "prefix": "324", "x": {"n": [1, None, True, "é\u0301"]}}]
            await _respond(send, 200, _tool_result(request, {"zone": -1, **plain}))
        elif behaviour == "wrong shape":
            await _respond(send, 200, _tool_result(request, {"country": 5}))
        elif behaviour == "no data":
            await _respond(send, 200, _answer(request, {"content": [{"type": "text", "text": "fine"}]}))
        else:
            await _respond(send, 200, _tool_result(request, _prefixes(arguments["country"])))


def _text_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _tool_result(request: dict[str, Any], data: dict[str, Any]) -> bytes:
    return _answer(
        request, {"content": [{"type": "text", "text": json.dumps(data)}], "structuredContent": data}
    )


def _answer(request: dict[str, Any], result: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()


async def _respond(send: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    fields = {"content-type": "application/json", **(headers or {})}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in fields.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})
