"""Logging to stderr and a rotating file, with secrets scrubbed from every record.

stdout is the MCP protocol, so no handler here ever writes to it.  Every record goes through
``scrub``: the one redaction (``core.redact``: registered secrets, any piece of one, JWTs and
other token shapes), then the shapes only a log line has (Bearer headers, ``code=``,
``access_token`` fields).
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

import platformdirs

from vertex_stdio.core.privatefs import open_private, private_dir
from vertex_stdio.core.redact import REDACTED, redact, register_secret

__all__ = ["REDACTED", "SecretFilter", "configure", "log_dir", "redact", "register_secret", "scrub"]

APP_NAME = "vertex-stdio"
LOG_FILE_NAME = "vertex-stdio.log"

_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    # any X-...-Token header: "X-Api-Token: v", {"x-api-token": "v"} and httpcore's (b'x-api-token', b'v')
    re.compile(r"(?i)(x-[a-z0-9-]*token[\"']?\s*[:=,]\s*b?[\"']?)[^\s\"',;)]+"),
    re.compile(
        r"(?i)\b((?:access_token|refresh_token|id_token|code_verifier|client_secret|code|at|token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
    ),
)


def scrub(text: str) -> str:
    """``text`` redacted (``core.redact.redact``), then header and ``key=value`` token shapes cut."""
    text = redact(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class SecretFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with ``scrub``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub(formatted)
            record.exc_info = None
            record.msg = f"{record.getMessage()}\n{record.exc_text}"
            record.args, record.exc_text = None, None
        return True


def log_dir() -> Path:
    """Where the log file lives: the platform's user log directory for vertex-stdio."""
    override = os.environ.get("VERTEXSMS_LOG_DIR")
    if override:
        return Path(override)
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def configure(level: str, *, to_file: bool = True) -> Path | None:
    """Send logs to stderr and (best effort) a rotating file; return the file's path.

    Below ``DEBUG``, stderr carries only vertex-stdio's own records and other libraries' warnings.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    secret_filter = SecretFilter()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    stderr.addFilter(secret_filter)
    if logging.getLevelName(level) != logging.DEBUG:
        stderr.addFilter(_own_or_warning)
    root.addHandler(stderr)
    path = _file_handler(formatter, secret_filter) if to_file else None
    root.setLevel(level)
    # httpx2 logs whole URLs at INFO and httpcore2 headers at DEBUG: keep them quiet.
    for noisy in ("httpx2", "httpcore2", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return path


def _own_or_warning(record: logging.LogRecord) -> bool:
    """stderr below DEBUG: our own records, and only warnings and errors from libraries.

    A client shows our stderr as its server log; uvicorn's (sandbox) and the SDK's INFO lines
    only clutter it.  The log file still gets them.
    """
    return record.name.startswith("vertex_stdio") or record.levelno >= logging.WARNING


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file readable by its owner only (0600), rotations included; never a symlink."""

    def _open(self) -> io.TextIOWrapper:
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def _file_handler(formatter: logging.Formatter, secret_filter: logging.Filter) -> Path | None:
    directory = log_dir()
    try:
        # Every missing parent is made 0700 (``mkdir(parents=True)`` leaves them at the umask's
        # 0755; XDG asks for 0700): on Linux the log directory sits inside the state directory.
        private_dir(directory)
        path = directory / LOG_FILE_NAME
        os.close(open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))  # refuse a planted link now
        handler = _PrivateRotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", delay=True
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("No log file (%s); logging to stderr only", exc)
        return None
    handler.setFormatter(formatter)
    handler.addFilter(secret_filter)
    logging.getLogger().addHandler(handler)
    return path
