"""The SDK's logging set-up, skipped while ours is in place: rich is not imported for nothing.

``MCPServer.__init__`` calls the SDK's ``configure_logging``, which imports rich (about 1.4 MB of
resident memory) to build a ``RichHandler`` and hands it to ``logging.basicConfig``; and
``basicConfig`` does nothing at all when the root logger already has handlers, as it has once
``core.logs.configure`` ran.  So, while the root logger has handlers, importing rich fails for the
length of the block and the SDK takes its own fallback (a plain ``StreamHandler``, which
``basicConfig`` ignores the same way): what is logged, and where, does not change.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

RICH = "rich"


@contextmanager
def sdk_logging_skipped() -> Iterator[None]:
    """Around a construction of ``MCPServer``: no rich import while our handlers are in place.

    Without handlers on the root logger (a library user's process) the SDK sets logging up as it
    always does; with rich already loaded there is nothing to save.
    """
    if not logging.getLogger().handlers or RICH in sys.modules:
        yield
        return
    sys.modules[RICH] = None  # type: ignore[assignment]  # the import system's "not importable"
    try:
        yield
    finally:
        if sys.modules.get(RICH, RICH) is None:
            del sys.modules[RICH]
