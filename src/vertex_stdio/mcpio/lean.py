"""The lean front: a session's opening ``initialize`` and ``tools/list`` answered while the SDK loads.

Importing the SDK (pydantic models of the whole protocol) takes over a second; a desktop client
starts every server at launch and waits for each.  So ``serve`` imports it on a worker thread
and, meanwhile, ``front`` answers from a ``Manifest``: the SDK's own answers, generated from
the real server and checked in (a test regenerates them and compares, so they cannot drift).
Plain Python only: nothing here imports the SDK, pydantic, httpx2 or anyio.

No weaker validation: the front answers a message only when it has the one plain shape the
SDK is known to accept (``is_initialize``, ``_is_tools_list``: a test feeds the same messages,
typed every way, to both and proves every answer the front gives is the SDK's).  At the first
message it does not answer -- anything else, or any doubt -- it stops reading, and the SDK
answers that message and everything after it.  The SDK also sees what the front answered,
replayed under private ids whose answers are not written (``Handover``), so its session is the
one it would have had.  The front also stops as soon as the SDK is ready (``wake`` readable).
"""

from __future__ import annotations

import json
import os
import select
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vertex_stdio.mcpio.lines import MAX_LINE_BYTES, RequestId, json_object

_PRIVATE_ID = "vertex-stdio/lean/{}"
IDLE = 0.05  # seconds without a message before a waiting SDK starts loading (``mcpio.early``)
_MAX_ID = 2**53  # larger integer ids go to the SDK
_CLIENT_INFO = frozenset({"name", "version", "title"})
_INITIALIZE = frozenset({"protocolVersion", "capabilities", "clientInfo"})


@dataclass(frozen=True)
class Manifest:
    """The SDK's answers, per protocol version: ``initialize`` and ``tools/list`` results.

    ``versions`` are the versions the handshake offers, the latest last: a client asking for
    another one is answered with the latest, as the SDK does.
    """

    versions: tuple[str, ...]
    initialize: dict[str, dict[str, Any]]
    tools: dict[str, dict[str, Any]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        lists = data["tools_lists"]
        return cls(
            tuple(data["versions"]),
            # the SDK writes an initialize result's keys sorted: the same bytes, not just the same JSON
            {v: dict(sorted({**data["initialize"], "protocolVersion": v}.items())) for v in data["versions"]},
            {v: lists[data["tools_list_of"][v]] for v in data["versions"]},
        )

    def negotiated(self, requested: str) -> str:
        return requested if requested in self.versions else self.versions[-1]


@dataclass
class Handover:
    """Where the front stopped: what the SDK must see first, and how the session stands.

    ``replay`` are wire lines (the front's answered requests under private ids, and the
    notifications it read), ``swallow`` the private ids whose answers are dropped, ``preface``
    the stdin bytes not yet handled.  ``ended`` is ``"eof"``, ``"SIGTERM"`` or ``"SIGINT"``
    when the session ended in the front, else None.
    """

    preface: bytes = b""
    replay: list[bytes] = field(default_factory=list)
    swallow: set[RequestId] = field(default_factory=set)
    ended: str | None = None
    answered: int = 0
    fds: tuple[int, int] | None = None  # the claimed stdin and stdout the front read and wrote
    asked: int = 0  # request ids 1..asked were the early loop's to the client (``asks``): the SDK's follow


class Stopped(Exception):
    """A signal arrived while the front was reading: the session ends without the SDK."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def front(
    in_fd: int, out_fd: int, manifest: Manifest, wake_fd: int, idle: Callable[[], None] | None = None
) -> Handover:
    """Answer what the manifest can, until a message it cannot, end of input, or ``wake_fd`` is readable.

    Blocking reads and writes on the caller's thread; a signal handler raising ``Stopped`` (or
    Ctrl-C's ``KeyboardInterrupt``) ends it with ``ended`` set.  ``idle`` (the SDK's loader, when
    it waits) is called once nothing has come for ``IDLE`` seconds.
    """
    state = _Front(manifest)
    state.handover(b"").fds = (in_fd, out_fd)
    buffer = b""
    try:
        while True:
            ready = select.select([in_fd, wake_fd], [], [], None if idle is None else IDLE)[0]
            if not ready and idle is not None:
                idle()
                idle = None
                continue
            if wake_fd in ready:
                return state.handover(buffer)
            chunk = os.read(in_fd, 64 * 1024)
            if not chunk:
                return state.handover(buffer, None if buffer.strip() else "eof")
            buffer += chunk
            while b"\n" in buffer:
                line, _, rest = buffer.partition(b"\n")
                answer = state.take(line)
                if answer is None:
                    return state.handover(buffer)
                buffer = rest
                _write_all(out_fd, answer)
            if len(buffer) > MAX_LINE_BYTES:
                return state.handover(buffer)
    except Stopped as stop:
        return state.handover(buffer, stop.name)
    except KeyboardInterrupt:
        return state.handover(buffer, "SIGINT")


class _Front:
    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._version: str | None = None  # negotiated by the answered initialize
        self._done = Handover()

    def take(self, line: bytes) -> bytes | None:
        """The answer to ``line`` (``b""``: none due), or None when the SDK must answer it."""
        message = json_object(line)
        if message is None:
            return b"" if not line.strip() else None
        if self._version is None:
            if not is_initialize(message):
                return None
            self._version = self._manifest.negotiated(message["params"]["protocolVersion"])
            return self._answer(message, self._manifest.initialize[self._version])
        if is_initialized(message):
            self._done.replay.append(line.strip() + b"\n")
            return b""
        if _is_tools_list(message):
            return self._answer(message, self._manifest.tools[self._version])
        return None

    def _answer(self, message: dict[str, Any], result: dict[str, Any]) -> bytes:
        private = _PRIVATE_ID.format(len(self._done.swallow) + 1)
        self._done.swallow.add(private)
        self._done.replay.append(_wire({**message, "id": private}))
        self._done.answered += 1
        return _wire({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def handover(self, rest: bytes, ended: str | None = None) -> Handover:
        self._done.preface = rest
        self._done.ended = ended
        return self._done


def _wire(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def _text(value: Any) -> bool:
    """A string that is valid Unicode (no lone surrogate from a ``\\ud800`` escape)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_request(message: dict[str, Any], method: str) -> bool:
    id_ = message.get("id")
    good_id = _text(id_) or (type(id_) is int and abs(id_) < _MAX_ID)
    return good_id and message.get("jsonrpc") == "2.0" and message.get("method") == method


def is_initialize(message: dict[str, Any]) -> bool:
    """An ``initialize`` request of the plain shape: version, capabilities and client info, no more."""
    params = message.get("params")
    if set(message) != {"jsonrpc", "id", "method", "params"} or not is_request(message, "initialize"):
        return False
    if not isinstance(params, dict) or set(params) != _INITIALIZE or not _text(params["protocolVersion"]):
        return False
    info = params["clientInfo"]
    if not isinstance(info, dict) or not {"name", "version"} <= set(info) <= _CLIENT_INFO:
        return False
    return all(_text(v) for v in info.values()) and _plain_capabilities(params["capabilities"])


def _plain_capabilities(capabilities: Any) -> bool:
    """Client capabilities of the shapes every client sends: roots, sampling, elicitation."""
    if not isinstance(capabilities, dict):
        return False
    roots = capabilities.get("roots", {})
    elicitation = capabilities.get("elicitation", {})
    return (
        set(capabilities) <= {"roots", "sampling", "elicitation"}
        and isinstance(roots, dict)
        and set(roots) <= {"listChanged"}
        and all(type(v) is bool for v in roots.values())
        and capabilities.get("sampling", {}) == {}
        and isinstance(elicitation, dict)
        and set(elicitation) <= {"form", "url"}
        and all(v == {} for v in elicitation.values())
    )


def is_initialized(message: dict[str, Any]) -> bool:
    plain = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    return message == plain or message == {**plain, "params": {}}


def _is_tools_list(message: dict[str, Any]) -> bool:
    """A ``tools/list`` request with no cursor and no ``_meta``."""
    return _plain(message) and is_request(message, "tools/list")


def is_ping(message: dict[str, Any]) -> bool:
    """A ``ping`` request with no params, or empty ones (the early loop answers it: ``mcpio.early``)."""
    return _plain(message) and is_request(message, "ping")


def _plain(message: dict[str, Any]) -> bool:
    """The request's keys and nothing else; its params, when given, empty."""
    return set(message) == {"jsonrpc", "id", "method"} or (
        set(message) == {"jsonrpc", "id", "method", "params"} and message["params"] == {}
    )
