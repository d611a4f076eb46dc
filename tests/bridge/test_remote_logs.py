"""The remote's log messages at or above the local client's level, passed on unchanged."""

from __future__ import annotations

from typing import Any, cast

import pytest
from mcp.server.session import ServerSession
from mcp.types import LoggingLevel, LoggingMessageNotification, LoggingMessageNotificationParams

from vertex_stdio.bridge.remote_logs import LogRelay

pytestmark = pytest.mark.anyio


class Session:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_notification(self, message: Any) -> None:
        self.sent.append(message)


def message(level: str) -> LoggingMessageNotification:
    params = LoggingMessageNotificationParams(level=cast(LoggingLevel, level), data={"n": level})
    return LoggingMessageNotification(params=params)


async def test_everything_passes_until_a_level_is_set_then_only_that_level_and_above() -> None:
    relay, session = LogRelay(), Session()
    served = cast(ServerSession, session)
    await relay.relay(served, message("debug"))
    assert await relay.set_level(None, {"level": "error"}) == {}
    for level in ("debug", "warning", "error", "emergency"):
        await relay.relay(served, message(level))
    await relay.set_level(None, {"level": "loud"})  # unknown: the level stays
    await relay.relay(served, message("info"))
    assert [sent.params.level for sent in session.sent] == ["debug", "error", "emergency"]
    assert session.sent[1].params.data == {"n": "error"}
