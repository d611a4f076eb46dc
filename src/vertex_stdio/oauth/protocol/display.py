"""Whether this machine can show the person a browser (pure: the environment is passed in).

"No display" means: an SSH session (``SSH_CONNECTION``, ``SSH_CLIENT`` or ``SSH_TTY`` set), or a
Linux/BSD session without ``DISPLAY`` and ``WAYLAND_DISPLAY``; macOS and Windows always have one.
A ``BROWSER`` setting wins over both: the person said how to open a browser here.
"""

from __future__ import annotations

from collections.abc import Mapping


def no_display(env: Mapping[str, str], platform: str) -> str | None:
    """Why no browser can be shown here (for the person to read), or None when one can."""
    if env.get("BROWSER"):
        return None
    if any(env.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")):
        return "this is an SSH session"
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    ):
        return "there is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None
