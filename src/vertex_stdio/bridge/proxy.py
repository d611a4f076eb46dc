"""The local stdio MCP server for one remote: answers lists from the cache, forwards the rest.

Built on the SDK's low-level ``Server`` (it owns the handshake of either protocol era, ping,
cancellation and progress tokens).  A middleware answers every method we serve with the JSON
the remote wrote (``RAW_METHODS``), so results are passed on as they came, never rebuilt.

- ``initialize`` and the ``*/list`` requests answer at once from the cache (offline, signed in or
  not); the cache is refreshed in the background with the sign-in at hand (never a browser) and
  ``list_changed`` is sent for the lists that changed.  The remote's own ``list_changed`` refresh
  too, calmly: at most one refresh runs and one more waits, however many notifications arrive.
- With no cache yet, the first list request (or tool call) waits (bounded) for a first fetch with
  what is at hand: a server that needs no sign-in answers it, and its lists are served.  One that
  asks for a sign-in (401) gets one tool, ``sign_in``; its call runs the browser sign-in, fetches
  and caches the lists, sends ``list_changed`` and says what the server offers.
- Only the tools ``--tools`` / ``--exclude-tools`` select are listed and callable (``selection``).
- The remote's elicitation, sampling and roots requests reach the local client (``relay``), and
  the local client's ``notifications/roots/list_changed`` the remote.
- ``tools/call``, ``resources/read``, ``prompts/get``, ``completion/complete`` and the resource
  subscriptions are forwarded (signing in on the first that needs it); remote tool errors pass
  through as written; our own failures are the contract's JSON envelope (with no
  ``vertex_error_code``: that is VertexSMS's own code).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.types import (
    INTERNAL_ERROR,
    LoggingMessageNotification,
    PromptListChangedNotification,
    ResourceListChangedNotification,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    ToolListChangedNotification,
)

from vertex_stdio import __version__
from vertex_stdio.bridge import signin_tool
from vertex_stdio.bridge.calm import Calm
from vertex_stdio.bridge.leancall import LeanLink
from vertex_stdio.bridge.link import RemoteLink, Tokens
from vertex_stdio.bridge.offer import LISTS, Offer, OfferCache, fetch_list, offered, size_of
from vertex_stdio.bridge.relay import LocalPeer, roots_changed
from vertex_stdio.bridge.remote_logs import LogRelay
from vertex_stdio.bridge.selection import ToolFilter
from vertex_stdio.bridge.servers import RemoteServer
from vertex_stdio.bridge.wire import AnyParams, capabilities, envelope, outgoing, tool_error
from vertex_stdio.core.calls import MAX_ANSWER_BYTES
from vertex_stdio.core.errors import AuthRequired, NotFound, VertexError
from vertex_stdio.mcpio.prompt import RequestPrompt, progress_relay

log = logging.getLogger(__name__)

Ctx = ServerRequestContext[Any, Any]
Handler = Callable[[Ctx, dict[str, Any]], Awaitable[dict[str, Any]]]
FORWARDED = (
    "resources/read",
    "prompts/get",
    "completion/complete",
    "resources/subscribe",
    "resources/unsubscribe",
)


class Proxy:
    """One remote server, served locally; ``server()`` builds the SDK server that runs it."""

    def __init__(
        self,
        remote: RemoteServer,
        tokens: Tokens,
        cache: OfferCache,
        *,
        timeout: float = 30.0,
        max_answer: int = MAX_ANSWER_BYTES,
        tool_filter: ToolFilter | None = None,
        **link: Any,
    ) -> None:
        self.remote = remote
        self._filter = tool_filter or ToolFilter()
        self._first_fetch: anyio.Event | None = None
        self._unreached: VertexError | None = None  # why the first fetch failed, not for a sign-in
        self._tokens = tokens
        self._cache = cache
        self._timeout = timeout
        self._max_answer = max_answer
        self._link_options = link
        self.offer = cache.load()
        self._link: RemoteLink | None = None
        self._tg: TaskGroup | None = None
        self._session: ServerSession | None = None
        self._refreshed_once = False
        self._calm = Calm(self._refresh_quietly)
        self._logs = LogRelay()
        self._raw: dict[str, Handler] = {
            "tools/list": self._list("tools"),
            "resources/list": self._list("resources"),
            "resources/templates/list": self._list("templates"),
            "prompts/list": self._list("prompts"),
            "tools/call": self._call_tool,
            **{method: self._forwarder(method) for method in FORWARDED},
            "logging/setLevel": self._logs.set_level,
        }

    # -- the SDK server ---------------------------------------------------------------------

    def server(self) -> Server[Any]:
        server: Server[Any] = Server("vertex-stdio-connect", version=__version__, lifespan=self._lifespan)
        for method in self._raw:
            server.add_request_handler(method, AnyParams, self._typed(method))
        server.add_notification_handler("notifications/roots/list_changed", AnyParams, self._roots_changed)
        server.middleware.append(self._middleware)
        return server

    def initialization_options(self) -> InitializationOptions:
        """What ``initialize`` answers: the remote's own words from the cache, else ours."""
        offer = self.offer
        if offer is None:
            return InitializationOptions(
                server_name=f"vertex-stdio connect {self.remote.host}",
                server_version=__version__,
                capabilities=capabilities({"tools": {}, "resources": {}, "prompts": {}}),
                instructions=signin_tool.instructions(self.remote.host),
            )
        info = offer.server_info
        return InitializationOptions(
            server_name=str(info.get("name") or self.remote.host),
            server_version=str(info.get("version") or ""),
            title=info.get("title") if isinstance(info.get("title"), str) else None,
            capabilities=capabilities(offer.capabilities),
            instructions=offer.instructions,
        )

    @asynccontextmanager
    async def _lifespan(self, _server: Server[Any]) -> AsyncIterator[Proxy]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._link = RemoteLink(
                self.remote.url,
                self._tokens,
                tg,
                host=self.remote.host,
                timeout=self._timeout,
                on_notification=self._from_remote,
                max_answer=self._max_answer,
                local=LocalPeer(lambda: self._session),
                **self._link_options,
            )
            try:
                yield self
            finally:
                await self._link.aclose()
                tg.cancel_scope.cancel()

    async def _roots_changed(self, ctx: Ctx, _params: AnyParams) -> None:
        if self._link is not None:
            await roots_changed(ctx.session, self._link.opened)

    def _typed(self, method: str) -> Callable[[Ctx, AnyParams], Awaitable[HandlerResult]]:
        async def handler(ctx: Ctx, _params: AnyParams) -> HandlerResult:
            return await self._raw[method](ctx, dict(ctx.params or {}))

        return handler

    async def _middleware(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None or ctx.method not in self._raw:
            return await call_next(ctx)
        self._session = ctx.session
        return await self._raw[ctx.method](ctx, dict(ctx.params or {}))

    def linked(self, *, serving: bool = False) -> RemoteLink | None:
        """The link once the lifespan made it (and, with ``serving``, once a local session is there
        for the remote's messages); None before."""
        return None if serving and self._session is None else self._link

    @property
    def link(self) -> RemoteLink:
        if self._link is None:
            raise RuntimeError("the proxy's lifespan has not started")
        return self._link

    # -- lists ---------------------------------------------------------------------------

    def _list(self, name: str) -> Handler:
        _, key = LISTS[name]

        async def answer(ctx: Ctx, _params: dict[str, Any]) -> dict[str, Any]:
            if self.offer is None:
                await self._fetch_first()
            else:
                self._start_refresh()
            if self.offer is None:
                return {key: [signin_tool.sign_in_tool(self.remote.host)] if name == "tools" else []}
            items = self.offer.items(name)
            return {key: self._filter.tools(items) if name == "tools" else items}

        return answer

    async def _fetch_first(self) -> None:
        """No cache yet: one fetch with what is at hand (no browser), waited for up to the timeout."""
        if self._first_fetch is None and self._tg is not None:
            done = self._first_fetch = anyio.Event()
            self._refreshed_once = True

            async def fetch() -> None:
                try:
                    await self._refresh_quietly()
                finally:
                    done.set()

            self._tg.start_soon(fetch)
        if self._first_fetch is not None:
            with anyio.move_on_after(self._timeout):
                await self._first_fetch.wait()

    def _start_refresh(self) -> None:
        """The first list answer of a process refreshes the cache behind it (once)."""
        if not self._refreshed_once and self._tg is not None:
            self._refreshed_once = True
            self._calm.request(self._tg)

    async def _refresh_quietly(self) -> None:
        """With the sign-in at hand (never a browser), fetch the lists; tell the client what changed."""
        try:
            await self.refresh(interactive=False)
        except AuthRequired:
            log.info("not signed in to %s; the cached lists stay as they are", self.remote.host)
        except VertexError as exc:
            self._unreached = exc  # a tool called with nothing cached says this, not "sign in"
            log.warning(
                "could not refresh what %s offers (%s); the cache is used", self.remote.host, exc.message
            )
        except MCPError as exc:
            log.info("%s refused a list request (%s); the cache is used", self.remote.host, exc.error.message)

    async def refresh(self, *, interactive: bool, ctx: Ctx | None = None) -> Offer:
        """Fetch everything the remote offers, cache it, and send ``list_changed`` for what changed."""
        prompt = RequestPrompt(ctx) if ctx is not None else None
        session = await self.link.session(interactive=interactive, prompt=prompt)
        offer = Offer(session.capabilities, session.server_info, session.instructions)

        async def fetch(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
            return await self.link.request(method, params, interactive=interactive)

        budget = self._cache.max_bytes - size_of(offer.to_json())
        for name in LISTS:
            if offered(session.capabilities, name):
                # Each list is served as one answer: no larger than an answer, nor than what is left.
                limit, option = min((self._max_answer, "--max-answer-mib"), (budget, "--max-cache-mib"))
                items = await fetch_list(fetch, name, limit=limit, host=self.remote.host, option=option)
                budget -= size_of(items)
                offer = offer.with_list(name, items)
        self._cache.save(offer)
        before, self.offer = self.offer, offer
        await self._announce(offer.changed(before) if before is not None else list(LISTS))
        return offer

    async def _announce(self, changed: list[str]) -> None:
        session = self._session
        if session is None or not changed:
            return
        try:
            if "tools" in changed:
                await session.send_notification(ToolListChangedNotification())
            if "resources" in changed or "templates" in changed:
                await session.send_notification(ResourceListChangedNotification())
            if "prompts" in changed:
                await session.send_notification(PromptListChangedNotification())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("the client went away before list_changed could be sent")

    async def _from_remote(self, message: Any) -> None:
        """The remote's notifications: list changes refresh the cache first; updates pass on."""
        if isinstance(
            message,
            ToolListChangedNotification | ResourceListChangedNotification | PromptListChangedNotification,
        ):
            self._refreshed_once = True
            if self._tg is not None:
                self._calm.request(self._tg)
        elif isinstance(message, LoggingMessageNotification):
            await self._logs.relay(self._session, message)
        elif isinstance(message, ResourceUpdatedNotification) and self._session is not None:
            params = ResourceUpdatedNotificationParams(uri=message.params.uri)
            await self._session.send_notification(ResourceUpdatedNotification(params=params))

    # -- calls ---------------------------------------------------------------------------

    def lean(self) -> LeanLink:
        """The plain calls this proxy answers beside the SDK server (``bridge/leancall.py``)."""
        return LeanLink(
            lambda: self.link,
            self.remote.url,
            self._lean_served,
            lambda error: signin_tool.worded(error, self.remote),
            self._from_remote,
            self._tokens,
            timeout=self._timeout,
        )

    def _lean_served(self, name: str) -> bool | None:
        """Whether the link path would forward a call of ``name`` at once, as it is (its lists cached,
        the tool served, not the sign-in tool, a local session there for the remote's messages):
        None when not; else whether it is read-only (sent again after a broken connection)."""
        if self.offer is None or self._session is None or self._link is None or not self._filter.allows(name):
            return None
        known = self.offer.tool(name)
        if known is None and name == signin_tool.SIGN_IN:
            return None
        annotations = (known or {}).get("annotations")
        return isinstance(annotations, dict) and annotations.get("readOnlyHint") is True

    async def _call_tool(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        known = self.offer.tool(str(name)) if self.offer is not None else None
        try:
            if known is None and name == signin_tool.SIGN_IN:
                return await self._sign_in(ctx)
            if not self._filter.allows(str(name)):
                raise NotFound(
                    f"The tool {name!r} is not served here (connect's --tools and --exclude-tools options choose them)."
                )
            if self.offer is None:
                await self._fetch_first()  # a server that needs no sign-in answers this at once
                known = self.offer.tool(str(name)) if self.offer is not None else None
            if self.offer is None:
                raise self._unreachable() or await self._needs_sign_in(ctx)
            annotations = (known or {}).get("annotations")
            read_only = isinstance(annotations, dict) and annotations.get("readOnlyHint") is True
            return await self.link.request(
                "tools/call",
                outgoing(params),
                interactive=True,
                prompt=RequestPrompt(ctx),
                progress=progress_relay(ctx),
                retry=read_only,
            )
        except VertexError as error:
            log.info("%s failed: %s", name, error.code)
            return tool_error(signin_tool.worded(error, self.remote))

    async def _sign_in(self, ctx: Ctx) -> dict[str, Any]:
        return signin_tool.signed_in(self.remote.host, await self.refresh(interactive=True, ctx=ctx))

    def _unreachable(self) -> VertexError | None:
        """Why the first fetch failed when it was not for a sign-in (network, TLS); the next call
        or list fetches again."""
        unreached, self._unreached = self._unreached, None
        if unreached is not None:
            self._first_fetch = None
        return unreached

    async def _needs_sign_in(self, ctx: Ctx) -> AuthRequired:
        """A tool before sign-in: start the browser sign-in, answer at once with its link."""
        url: str | None = None
        wait_for_url = getattr(self._tokens, "wait_for_url", None)
        if self._tg is not None and wait_for_url is not None:
            self._tg.start_soon(self._sign_in_in_background)
            with anyio.move_on_after(10.0):
                while url is None:  # the sign-in starts in its own task: poll briefly for its link
                    url = await wait_for_url(0.1)
        return signin_tool.not_signed_in(self.remote.host, url)

    async def _sign_in_in_background(self) -> None:
        try:
            await self.refresh(interactive=True)
        except (VertexError, MCPError) as exc:
            log.info("the sign-in to %s did not complete (%s)", self.remote.host, type(exc).__name__)

    def _forwarder(self, method: str) -> Handler:
        async def forward(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
            try:
                return await self.link.request(
                    method,
                    outgoing(params),
                    interactive=True,
                    prompt=RequestPrompt(ctx),
                    progress=progress_relay(ctx),
                )
            except VertexError as error:
                worded = signin_tool.worded(error, self.remote)
                raise MCPError(INTERNAL_ERROR, worded.message, envelope(worded)) from error

        return forward
