"""The one-shot loopback redirect receiver (RFC 8252 §7.3) on 127.0.0.1, bound to one browser.

The browser is sent to a one-time start URL, ``/start/<nonce>``, never to the authorization URL
itself (whose ``state`` would let anyone who saw it deliver their own code).  The first fetch of
the start URL sets an HttpOnly, SameSite=Lax cookie for the callback path and redirects (302) to
the authorization URL; a second fetch means someone else holds the link, so the whole sign-in is
cancelled (fail closed).  ``/callback`` is accepted only with that cookie (RFC 9700 §4.5 binding).
Where the system says who owns a connection (Linux), both paths refuse another local account.

Contract: serves only ``GET`` on those two paths with the expected ``Host``; anything else gets a
static 404/405/400 page and does not end the wait.  The first callback with the cookie and a
matching ``state`` (both compared in constant time) is handed to the sign-in, which then decides
the page the person sees (``finish``).  Pages are static and never echo a query parameter; only
the start URL redirects, to the URL it was armed with.  Requests are size-bounded and
time-bounded; the socket is closed by ``aclose`` (call it in ``finally``).

A flood of idle connections cannot use up the descriptors nor stall accepting
(``listener.LoopbackListener``), and once an answer is taken the receiver stops accepting and
drops every idle connection, leaving the descriptors to the token request that follows.
"""

from __future__ import annotations

import asyncio
import errno
import html
import logging
import os
from collections.abc import Callable
from typing import Literal
from urllib.parse import parse_qs

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.launcher import command
from vertex_stdio.oauth.io.listener import LoopbackListener
from vertex_stdio.oauth.io.peer import from_another_account
from vertex_stdio.oauth.io.request_head import parse_head
from vertex_stdio.oauth.protocol.core import new_state, same_secret

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
START_PREFIX = "/start/"
COOKIE = "signin_binding"
COOKIE_MAX_AGE = 900
MAX_REQUEST = 8192
READ_TIMEOUT = 5.0
VERDICT_TIMEOUT = 30.0

Verdict = Literal["success", "denied", "failed"]

_MESSAGES: dict[str, tuple[str, str]] = {
    "success": (
        "Signed in to {name}",
        "You are signed in. You may close this tab and go back to your assistant.",
    ),
    "denied": ("Sign-in cancelled", "Access was not granted, so nothing changed. You may close this tab."),
    "failed": (
        "Sign-in did not complete",
        "Something went wrong, so you are not signed in. You may close this tab and try again "
        "with `{login}`.",
    ),
    "stale": (
        "This sign-in link is not active",
        "This page does not belong to a sign-in that is waiting. You may close this tab.",
    ),
    "not-found": ("Not found", "There is nothing here. You may close this tab."),
    "other-browser": (
        "This sign-in belongs to another browser",
        "This answer did not come through the browser that started the sign-in, so it was not used. "
        "You may close this tab.",
    ),
    "reused": (
        "This sign-in link was already used",
        "The sign-in link was opened twice, so the sign-in was cancelled for your safety. Close this "
        "tab and start again with `{login}`.",
    ),
}

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;color:#222}}
h1{{font-size:1.4em}}</style></head><body><h1>{title}</h1><p>{text}</p></body></html>"""


def parse_query(query: str) -> dict[str, str]:
    """A redirect's query as a dict (first value of each name; blank values kept)."""
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def page(kind: str, name: str = "your account", login: str | None = None) -> bytes:
    """A static page for ``kind``; its content never depends on the request (only on the caller).

    ``login``: the sign-in command the page names (default: this installation's ``login``)."""
    login = login or command("login")
    title, text = (part.format(name=html.escape(name), login=html.escape(login)) for part in _MESSAGES[kind])
    return _PAGE.format(title=title, text=text).encode("utf-8")


Answer = tuple[str, str, str]
"""(status line, page kind, extra header lines)."""


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _refused_account() -> Answer:
    log.warning("another local account tried to use this sign-in; it was refused")
    return "403 Forbidden", "other-browser", ""


class CallbackPortUnavailable(AuthRequired):
    """The loopback callback could not be bound: nothing was opened, so no sign-in was abandoned."""


class Receiver:
    """Waits for the authorization server's redirect back to ``redirect_uri``."""

    def __init__(
        self,
        state: str,
        port: int = 0,
        *,
        name: str = "your account",
        login: str | None = None,
        choose_port: str | None = None,
        another_account: Callable[[object, object], bool] = from_another_account,
    ) -> None:
        """``another_account(peername, sockname)``: whether a connection comes from another local
        account (a seam: the system's answer by default)."""
        self._state = state
        self._port = port
        self._name = name
        self._login = login or command("login")
        self._choose_port = choose_port
        self._nonce = new_state()
        self._binding = new_state()
        self._target: str | None = None
        self._started = False
        self._listener = LoopbackListener(self._handle, limit=MAX_REQUEST)
        self._callback: asyncio.Future[dict[str, str]] | None = None
        self._verdict: asyncio.Future[Verdict] | None = None
        self._another_account = another_account

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:<port>/callback`` once started."""
        return f"http://127.0.0.1:{self._port}{CALLBACK_PATH}"

    @property
    def start_url(self) -> str:
        """The one-time URL to open in the browser (safe to show: it is useless once opened)."""
        return f"http://127.0.0.1:{self._port}{START_PREFIX}{self._nonce}"

    def arm(self, authorization_url: str) -> None:
        """Set where the start URL redirects: the authorization URL (kept here, never shown)."""
        self._target = authorization_url

    async def start(self) -> None:
        """Bind 127.0.0.1 (fail fast with a clear message when a fixed port is taken).

        ``SO_REUSEADDR`` (POSIX) lets a fixed port be bound again at once after the last sign-in
        closed it (its connections linger in TIME_WAIT); it never lets two listeners share it.
        Windows' SO_REUSEADDR would let another process steal a listening port, so not there.
        """
        loop = asyncio.get_running_loop()
        self._callback, self._verdict = loop.create_future(), loop.create_future()
        try:
            await self._listener.start(self._port, reuse_address=os.name == "posix")
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise CallbackPortUnavailable(
                    f"Could not open the sign-in callback on 127.0.0.1 ({exc.strerror})."
                ) from exc
            raise CallbackPortUnavailable(
                f"The sign-in callback port {self._port} is in use (another sign-in may be open). "
                "Finish or close it, "
                + (f"or {self._choose_port}, " if self._choose_port else "")
                + "then try again."
            ) from exc
        self._port = self._listener.port

    async def wait(self) -> dict[str, str]:
        """The query of the first callback with the right ``state`` (cancel to give up)."""
        if self._callback is None:
            raise RuntimeError("Receiver.start() was not awaited")
        return await asyncio.shield(self._callback)

    def deliver(self, query: dict[str, str]) -> bool:
        """Hand ``query`` to the waiting sign-in when its ``state`` matches (constant time).

        The state gate for every answer: the browser's redirect (once its cookie showed it came
        through the start URL) or an address pasted on the person's own terminal (which stands in
        for the cookie).  False when the state is wrong or an answer was already taken.
        """
        if self._callback is None or self._callback.done():
            return False
        if not same_secret(self._state, query.get("state")):
            return False
        self._callback.set_result(query)
        self._answered()
        return True

    def finish(self, verdict: Verdict) -> None:
        """Tell the waiting browser tab how the sign-in ended."""
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result(verdict)

    async def aclose(self) -> None:
        """Stop listening; a tab still waiting for its verdict gets the failure page."""
        self.finish("failed")
        if self._callback is not None and not self._callback.done():
            self._callback.cancel()
        await self._listener.aclose()

    def _answered(self) -> None:
        """An answer was taken: accept no more connections and drop the idle ones (their
        descriptors go to the token request that comes next)."""
        self._listener.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(self._listener.read_head(reader, writer), READ_TIMEOUT)
            if writer.transport.is_closing():
                return  # dropped as idle: its request is not answered, nor acted on

            # Looked up only for a request that holds a secret of this sign-in (cheap for floods).
            def foreign() -> bool:
                return self._another_account(
                    writer.get_extra_info("peername"), writer.get_extra_info("sockname")
                )

            status, kind, extra = await self._route(head, foreign)
        except (asyncio.LimitOverrunError, ValueError):
            status, kind, extra = "431 Request Header Fields Too Large", "not-found", ""
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return  # the listener closes it
        try:
            writer.write(_response(status, page(kind, self._name, self._login), extra))
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        except (TimeoutError, ConnectionError):
            log.debug("the browser went away before the callback page was sent")
        finally:
            writer.close()

    async def _route(self, head: bytes, foreign: Callable[[], bool] = lambda: False) -> Answer:
        request = parse_head(head)
        if request is None:
            return "400 Bad Request", "not-found", ""
        path = request.path
        is_start = path.startswith(START_PREFIX)
        if not (path == CALLBACK_PATH or is_start) or not request.for_port(self._port):
            return "404 Not Found", "not-found", ""
        if request.method != "GET":
            return "405 Method Not Allowed", "not-found", ""
        if is_start:
            return self._start(path[len(START_PREFIX) :], foreign)
        if self._callback is None or self._callback.done():
            return "400 Bad Request", "stale", ""
        if not (self._started and same_secret(self._binding, request.cookie(COOKIE))):
            log.warning("a sign-in callback came without the starting browser's cookie; it was ignored")
            return "400 Bad Request", "other-browser", ""
        if foreign():
            return _refused_account()
        if not self.deliver(parse_query(request.query)):
            return "400 Bad Request", "stale", ""
        status, kind = await self._await_verdict()
        return status, kind, ""

    def _start(self, nonce: str, foreign: Callable[[], bool]) -> Answer:
        if self._target is None or not same_secret(self._nonce, nonce):
            return "404 Not Found", "not-found", ""
        if foreign():
            return _refused_account()
        if self._started:
            self._cancel_reused()
            return "400 Bad Request", "reused", ""
        self._started = True
        cookie = (
            f"Set-Cookie: {COOKIE}={self._binding}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; "
            f"Max-Age={COOKIE_MAX_AGE}\r\n"
        )
        return "302 Found", "not-found", f"Location: {self._target}\r\n{cookie}"

    def _cancel_reused(self) -> None:
        log.warning("the sign-in link was opened twice; the sign-in was cancelled for safety")
        if self._callback is not None and not self._callback.done():
            self._callback.set_exception(
                AuthRequired(
                    "The sign-in link was opened twice (perhaps by someone else on this computer), so "
                    f"the sign-in was cancelled for your safety. Run `{self._login}` to start again."
                )
            )

    async def _await_verdict(self) -> tuple[str, str]:
        if self._verdict is None:
            return "500 Internal Server Error", "failed"
        try:
            verdict = await asyncio.wait_for(asyncio.shield(self._verdict), VERDICT_TIMEOUT)
        except TimeoutError:
            verdict = "failed"
        return ("200 OK", verdict) if verdict == "success" else ("400 Bad Request", verdict)
