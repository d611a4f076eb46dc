"""The loopback approval page on 127.0.0.1: ``/approve/<nonce>``, bound to one browser.

Like the sign-in receiver (``oauth.io.receiver``): the first ``GET`` of a link sets an HttpOnly,
SameSite=Strict cookie for that path and shows the form; a later ``GET`` shows it only to the
browser holding that cookie.  A decision is taken only from a ``POST`` with that cookie, the
form's CSRF token and (when the browser sends one) this origin; never from a ``GET``.  Where the
system says who owns a connection (Linux), another local account is refused before anything
else.  Only ``Host: 127.0.0.1:<port>`` is served (no DNS rebinding).  Requests are size- and
time-bounded; connections are accepted within the descriptors (``oauth.io.listener``); ``aclose``
closes the socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

from vertex_stdio.oauth.io.listener import LoopbackListener
from vertex_stdio.oauth.io.peer import from_another_account
from vertex_stdio.oauth.io.request_head import RequestHead, parse_head
from vertex_stdio.vertexsms.approval.desk import Approval, Desk, same_secret
from vertex_stdio.vertexsms.approval.page import CSP, form, static

log = logging.getLogger(__name__)

PREFIX = "/approve/"
COOKIE = "approval_binding"
MAX_HEAD = 8192
MAX_BODY = 4096
READ_TIMEOUT = 5.0

Answer = tuple[str, bytes, str]
"""(status line, page, extra header lines)."""


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nReferrer-Policy: same-origin\r\nX-Content-Type-Options: nosniff\r\n"
        f"X-Frame-Options: DENY\r\nContent-Security-Policy: {CSP}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class PageServer:
    """Serves the approval pages of ``desk`` until closed.

    Referrer-Policy is ``same-origin``, not ``no-referrer``: with the latter a browser sends
    ``Origin: null`` on the form's POST, and the origin check could not tell it from a foreign page.
    """

    def __init__(
        self, desk: Desk, another_account: Callable[[object, object], bool] = from_another_account
    ) -> None:
        self._desk = desk
        self._another_account = another_account
        self._listener = LoopbackListener(self._handle, limit=MAX_HEAD)
        self.port = 0

    def url(self, approval: Approval) -> str:
        """The one-time link of ``approval`` (safe to show: its only secret is the nonce)."""
        return f"http://127.0.0.1:{self.port}{PREFIX}{approval.nonce}"

    @property
    def running(self) -> bool:
        return self._listener.listening

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        await self._listener.start()
        self.port = self._listener.port

    async def aclose(self) -> None:
        """Stop listening (idempotent)."""
        await self._listener.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(self._listener.read_head(reader, writer), READ_TIMEOUT)
            if writer.transport.is_closing():
                return
            status, page, extra = await self._route(head, reader, writer)
        except (asyncio.LimitOverrunError, ValueError):
            status, page, extra = "431 Request Header Fields Too Large", static("not-found"), ""
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return  # the listener closes it
        try:
            writer.write(_response(status, page, extra))
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        except (TimeoutError, ConnectionError):
            log.debug("the browser went away before the approval page was sent")
        finally:
            writer.close()

    async def _route(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Answer:
        request = parse_head(head)
        if request is None:
            return "400 Bad Request", static("not-found"), ""
        path = request.path
        approval = self._desk.by_nonce(path[len(PREFIX) :]) if path.startswith(PREFIX) else None
        if approval is None or not request.for_port(self.port):
            return "404 Not Found", static("not-found"), ""
        if self._another_account(writer.get_extra_info("peername"), writer.get_extra_info("sockname")):
            log.warning("another local account tried to open an SMS approval; it was refused")
            return "403 Forbidden", static("other-browser"), ""
        if request.method == "GET":
            return self._show(approval, request.cookie(COOKIE))
        if request.method != "POST":
            return "405 Method Not Allowed", static("not-found"), ""
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            return "400 Bad Request", static("forbidden"), ""
        body = await asyncio.wait_for(reader.readexactly(int(length)), READ_TIMEOUT)
        return self._decide(approval, request, body.decode("latin-1"))

    def _show(self, approval: Approval, cookie: str | None) -> Answer:
        if not self._desk.live(approval):
            return "410 Gone", static("expired" if approval.state == "pending" else "used"), ""
        if not approval.opened:
            approval.opened = True
            cookie_line = (
                f"Set-Cookie: {COOKIE}={approval.binding}; Path={PREFIX}{approval.nonce}; HttpOnly; "
                f"SameSite=Strict; Max-Age={int(self._desk.lifetime)}\r\n"
            )
            return "200 OK", form(approval, approval.expires - self._desk.clock()), cookie_line
        if not same_secret(approval.binding, cookie):
            log.warning("an SMS approval link was opened by a second browser; it was refused")
            return "403 Forbidden", static("other-browser"), ""
        if approval.state != "pending":
            return "409 Conflict", static("used"), ""
        return "200 OK", form(approval, approval.expires - self._desk.clock()), ""

    def _decide(self, approval: Approval, request: RequestHead, body: str) -> Answer:
        fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        origin = request.headers.get("origin")
        if (
            not approval.opened
            or not same_secret(approval.binding, request.cookie(COOKIE))
            or not same_secret(approval.csrf, fields.get("csrf"))
            or (origin is not None and origin != f"http://127.0.0.1:{self.port}")
            or fields.get("decision") not in ("approve", "decline")
        ):
            log.warning("an SMS approval answer came without the page's cookie or token; it was refused")
            return "403 Forbidden", static("forbidden"), ""
        if approval.state != "pending":
            return "409 Conflict", static("used"), ""
        if not self._desk.live(approval):
            return "410 Gone", static("expired"), ""
        approval.decide(fields["decision"] == "approve")
        return "200 OK", static(approval.state), ""
