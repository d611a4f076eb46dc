"""What ``connect`` (and ``login``/``logout``/``status``/``doctor --server``) is told: its own settings.

In its own terms: each is a command-line option of those commands (``--allow-file-store``,
``--callback-port``, ``--signin-timeout``, ``--log-level``).  The ``VERTEXSMS_*`` variables
that set them before still do (``setup --connect`` writes them into client configs), read by
the command line, which builds this object: nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from vertex_stdio.core.errors import ConfigError


@dataclass(frozen=True)
class ConnectSettings:
    """Sign-in storage, the loopback redirect port, and how long to wait."""

    allow_file_store: bool = False
    """Without a usable keyring, keep the refresh token in a 0600 file (``--allow-file-store``)."""
    callback_port: int = 0
    """The loopback redirect port, 0 for any free one (``--callback-port``)."""
    signin_timeout: float = 120.0
    """Seconds a call waits for a browser sign-in (``--signin-timeout``)."""
    http_timeout: float = 30.0
    """Seconds to wait for the remote on each request."""

    def __post_init__(self) -> None:
        if not 0 <= self.callback_port <= 65535:
            raise ConfigError(f"--callback-port must be 0-65535, got {self.callback_port}.")
        for name, value in (
            ("--signin-timeout", self.signin_timeout),
            ("the HTTP timeout", self.http_timeout),
        ):
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds, got {value}.")
