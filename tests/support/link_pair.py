"""``connect``'s link to a remote and the lean calls beside it on its connection, built in-process
as ``app/connect.py`` builds them but with no sign-in, for the tests that drive either path
against a loopback remote: ``linked`` (a ``RemoteLink``, closed at the block's end),
``lean_beside`` (its ``LeanLink``), and one ``tools/call`` on each (``link_call``, ``lean_call``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from vertex_stdio.bridge.leancall import LeanLink
from vertex_stdio.bridge.link import RemoteLink
from vertex_stdio.core.credentials import Challenge, SignInPrompt
from vertex_stdio.core.errors import AuthRequired


class NoSignIn:
    """A remote that needs no sign-in: no token, ever."""

    async def token(self, scopes: Sequence[str], prompt: SignInPrompt | None = None) -> str:
        raise AuthRequired("no sign-in here")

    async def silent_token(self) -> str | None:
        return None

    def challenged(self, challenge: Challenge) -> None:
        return None

    async def rejected(self, token: str, challenge: Challenge) -> bool:
        return False

    def accepted(self, token: str) -> None:
        return None


@asynccontextmanager
async def linked(url: str, *, timeout: float, **options: Any) -> AsyncIterator[RemoteLink]:
    """A ``RemoteLink`` to ``url`` (``options``: its ``transport``, ``on_notification``...) in a task
    group of its own; closed at the block's end, its connection too (as the proxy closes it)."""
    async with anyio.create_task_group() as tg:
        link = RemoteLink(url, NoSignIn(), tg, host="127.0.0.1", timeout=timeout, **options)
        try:
            yield link
        finally:
            await link.aclose()
            tg.cancel_scope.cancel()


def _look_only(name: str) -> bool | None:
    return True if name == "look" else None


def lean_beside(
    link: RemoteLink, url: str, *, timeout: float, served: Callable[[str], bool | None] = _look_only
) -> LeanLink:
    """The lean calls on ``link``'s connection; ``served`` says whether a tool is read-only (None:
    not served, left to the SDK path): by default only ``look``, read-only."""

    async def notified(_: Any) -> None:
        return None

    return LeanLink(lambda: link, url, served, lambda error: error, notified, NoSignIn(), timeout=timeout)


async def link_call(link: RemoteLink, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The link path's answer to a ``tools/call`` (a read: sent once more if its connection fails)."""
    params = {"name": name, "arguments": arguments}
    return await link.request("tools/call", params, interactive=False, retry=True)


async def lean_call(lean: LeanLink, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The lean path's answer to a ``tools/call``; fails the test if it was left to the SDK path."""
    prepared = lean.prepare(name, arguments)
    assert prepared is not None, f"{name} is not served by the lean path"
    result = await prepared()
    assert result is not None, "left to the SDK path"
    return result
