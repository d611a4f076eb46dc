"""The SDK's logging set-up is skipped while ours is in place (mcpio/sdklogging.py): building the
server then imports no rich and leaves the root logger as it was; without our handlers the SDK
sets logging up as it always did."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.mcpio.sdklogging import sdk_logging_skipped
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger with no handlers (pytest's own capture handlers come back as the test
    starts: tests drop them with ``_bare``) and no rich loaded; both as they were afterwards."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    loaded = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "rich"}
    for handler in handlers:
        logger.removeHandler(handler)
    for name in loaded:
        del sys.modules[name]
    try:
        yield logger
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        sys.modules.update(loaded)


def _bare(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def test_with_our_handlers_the_server_is_built_without_rich_and_logging_unchanged(
    root: logging.Logger,
) -> None:
    _bare(root)
    ours = logging.StreamHandler(sys.stderr)
    root.addHandler(ours)
    root.setLevel(logging.WARNING)
    build_server(Settings(), NoTokenProvider())
    assert "rich" not in sys.modules
    assert root.handlers == [ours]
    assert root.level == logging.WARNING
    import rich.console  # importable again once the server is built

    assert rich.console.Console is not None


def test_without_handlers_the_sdk_sets_logging_up_as_before(root: logging.Logger) -> None:
    _bare(root)
    build_server(Settings(), NoTokenProvider())
    from rich.logging import RichHandler

    assert [type(handler) for handler in root.handlers] == [RichHandler]


def test_rich_already_loaded_is_left_alone(root: logging.Logger) -> None:
    import rich

    root.addHandler(logging.NullHandler())
    with sdk_logging_skipped():
        assert sys.modules["rich"] is rich
    assert sys.modules["rich"] is rich
