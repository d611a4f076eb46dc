"""The protocol era of a Streamable HTTP session, negotiated as the SDK's ``Client(mode="auto")`` does.

``McpHttpSession(era="auto")`` (``mcp_http.py``) opens its session with ``negotiate``: a
``server/discover`` probe at the newest modern version (``_meta`` envelope: protocol version,
client info, capabilities; ``Mcp-Protocol-Version`` and ``Mcp-Method`` headers), then either
adopts it (2026-07-28: stateless, every request stamped by ``modern_stamp``) or falls back to
the ``initialize`` handshake (2025 and earlier: ``Mcp-Session-Id`` kept, the version header
on every later request).  The steps are those of ``mcp.client._probe.negotiate_auto`` and
``mcp.client.session`` (``send_discover``, ``initialize``, ``adopt``, ``_make_modern_stamp``)
for a client that declares no capability; tests/mcpio/test_mcp_era.py checks the constants
against the SDK's and compares what a server receives from both.

Where the SDK would go on in a way this does not follow (an answer it would parse into a
model this cannot cheaply prove the same, a transport failure it raises as it is), ``Unsure``
is raised: nothing of a call has been sent then, so the caller may leave the whole call to
the SDK.  Nothing here imports the SDK.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

LATEST_MODERN = "2026-07-28"
MODERN_VERSIONS = ("2026-07-28",)
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_HANDSHAKE = "2025-11-25"
UNSUPPORTED_PROTOCOL_VERSION = -32022
VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
VERSION_HEADER = "mcp-protocol-version"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
DISCOVER_TIMEOUT = 10.0  # seconds, as the SDK's ``DISCOVER_TIMEOUT_SECONDS``

Message = dict[str, Any]
# one request of the opening: (method, params, extra headers) -> the answer's message (result or error)
Exchange = Callable[[str, Message | None, dict[str, str]], Awaitable[Message]]


class Unsure(Exception):
    """The opening went where this does not follow the SDK; nothing of a call was sent."""


class Refused(Exception):
    """The server refused a request of the opening with a JSON-RPC error (or an HTTP status,
    which the SDK's transport turns into one): ``error`` when it carried one."""

    def __init__(self, error: Message | None) -> None:
        super().__init__("refused")
        self.error = error


def envelope(version: str, client_info: Message, capabilities: Message) -> Message:
    """The modern ``_meta`` envelope the SDK stamps on a request."""
    return {VERSION_META: version, CLIENT_INFO_META: client_info, CAPABILITIES_META: capabilities}


def modern_stamp(
    version: str, method: str, params: Message, client_info: Message, capabilities: Message
) -> tuple[Message, dict[str, str]]:
    """``params`` and the headers of a request at a modern ``version``, as the SDK's
    ``_make_modern_stamp`` writes them for a client with no param headers and no log level."""
    meta = dict(params.get("_meta") or {})
    meta.update(envelope(version, client_info, capabilities))
    stamped = {**params, "_meta": meta}
    headers = {VERSION_HEADER: version, METHOD_HEADER: method}
    name_key = NAME_BEARING.get(method)
    if name_key is not None and isinstance(name := params.get(name_key), str):
        headers[NAME_HEADER] = header_value(name)
    return stamped, headers


def answer_headers(headers: dict[str, str]) -> dict[str, str]:
    """A request's headers without what names it (``Mcp-Method``, ``Mcp-Name``): an answer to the
    server's request goes with the session's, as the SDK client sends it."""
    return {k: v for k, v in headers.items() if k.lower() not in (METHOD_HEADER, NAME_HEADER)}


_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")
_B64_SENTINEL = re.compile(r"=\?base64\?.*\?=", re.DOTALL)


def header_value(value: str) -> str:
    """``value`` as the SDK's ``encode_header_value`` puts it in a header (base64-wrapped unless
    plain printable ASCII without edge spaces that does not look wrapped already)."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not _B64_SENTINEL.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode('utf-8')).decode('ascii')}?="


async def negotiate(exchange: Exchange, client_info: Message, capabilities: Message) -> tuple[str, Message]:
    """The negotiated version and the result that settled it (``DiscoverResult`` or ``InitializeResult``).

    ``exchange`` sends one request of the opening; an ``initialize`` it sends must also send
    ``notifications/initialized`` and keep the session id (``McpHttpSession`` does).
    """
    version = LATEST_MODERN
    for attempt in range(2):
        meta = envelope(version, client_info, capabilities)
        headers = {VERSION_HEADER: version, METHOD_HEADER: "server/discover"}
        try:
            raw = _result(await exchange("server/discover", {"_meta": meta}, headers))
        except Refused as refused:
            supported = _supported(refused.error)
            if refused.error is not None and refused.error.get("code") == UNSUPPORTED_PROTOCOL_VERSION:
                mutual = [v for v in MODERN_VERSIONS if v in (supported or ())]
                if mutual and attempt == 0:
                    version = mutual[-1]
                    continue
                if supported is not None and not any(v in HANDSHAKE_VERSIONS for v in supported):
                    raise Unsure("the server speaks only modern versions this client does not") from None
            return await _handshake(exchange, client_info, capabilities)
        if not _plain_discover(raw):
            raise Unsure("a discover result this cannot prove the SDK reads alike")
        if not any(v in raw["supportedVersions"] for v in MODERN_VERSIONS):
            return await _handshake(exchange, client_info, capabilities)
        return [v for v in MODERN_VERSIONS if v in raw["supportedVersions"]][-1], raw
    raise AssertionError("unreachable")  # pragma: no cover


async def _handshake(exchange: Exchange, client_info: Message, capabilities: Message) -> tuple[str, Message]:
    params = {"protocolVersion": LATEST_HANDSHAKE, "capabilities": capabilities, "clientInfo": client_info}
    try:
        raw = _result(await exchange("initialize", params, {}))
    except Refused as refused:  # the SDK re-probes after a -32022 here, or fails: it decides
        raise Unsure("the server refused initialize") from refused
    version = raw.get("protocolVersion")
    if not _plain_initialize(raw) or version not in HANDSHAKE_VERSIONS:
        raise Unsure("an initialize result this cannot prove the SDK reads alike")
    return str(version), raw


def _result(answer: Message) -> Message:
    if "error" in answer:
        error = answer["error"]
        raise Refused(error if isinstance(error, dict) else None)
    result = answer.get("result")
    if not isinstance(result, dict):
        raise Unsure("an answer with no result")
    return result


def _supported(error: Message | None) -> list[str] | None:
    """``error.data.supported`` of a -32022 error when it is a list of strings, else None."""
    data = error.get("data") if error is not None else None
    supported = data.get("supported") if isinstance(data, dict) else None
    if isinstance(supported, list) and all(isinstance(v, str) for v in supported):
        return supported
    return None


def _plain_discover(raw: Message) -> bool:
    """A ``DiscoverResult`` of the plain shape (supported versions, capabilities, optional words)."""
    versions = raw.get("supportedVersions")
    capabilities = raw.get("capabilities")
    known = {
        "supportedVersions",
        "capabilities",
        "instructions",
        "resultType",
        "_meta",
        "ttlMs",
        "cacheScope",
    }
    ttl = raw.get("ttlMs", 0)
    return (
        set(raw) <= known
        and type(ttl) is int  # a negative one the SDK floors to 0 first (``_clamp_inbound_ttl``)
        and raw.get("cacheScope", "private") in ("public", "private")
        and isinstance(versions, list)
        and all(isinstance(v, str) for v in versions)
        and isinstance(capabilities, dict)
        and all(isinstance(v, dict) for v in capabilities.values())
        and isinstance(raw.get("instructions", ""), str)
        and raw.get("resultType", "complete") == "complete"
        and isinstance(raw.get("_meta", {}), dict)
    )


def _plain_initialize(raw: Message) -> bool:
    """An ``InitializeResult`` of the plain shape."""
    info = raw.get("serverInfo")
    return (
        isinstance(raw.get("capabilities"), dict)
        and isinstance(info, dict)
        and isinstance(info.get("name"), str)
        and isinstance(info.get("version"), str)
        and isinstance(raw.get("instructions", ""), str)
    )
