"""Doctor checks that need no network: versions, keyring, directories, credentials, sign-in."""

from __future__ import annotations

import importlib
import io
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import platformdirs
from keyring.backends import chainer, fail, null

from vertex_stdio.core.errors import VertexError
from vertex_stdio.core.launcher import command
from vertex_stdio.core.logs import APP_NAME, LOG_FILE_NAME, log_dir
from vertex_stdio.desktop.report import Check
from vertex_stdio.vertexsms.settings import Settings

PACKAGES = ("vertex-stdio", "mcp", "httpx2", "authlib", "keyring", "platformdirs")
NOT_IN_BUILD = "browser sign-in not available in this build"


def check_versions() -> Check:
    """Python >= 3.11 and every runtime package installed (mcp on major 2)."""
    python = ".".join(map(str, sys.version_info[:3]))
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    detail = f"Python {python}; " + ", ".join(found)
    if sys.version_info < (3, 11) or missing:
        gone = f"; missing: {', '.join(missing)}" if missing else ""
        return Check("versions", "fail", detail + gone, "reinstall: uv tool install --reinstall vertex-stdio")
    if not found[1].startswith("mcp 2."):
        return Check("versions", "warn", detail, "vertex-stdio is built for mcp 2.x; reinstall it")
    return Check("versions", "ok", detail)


def keyring_kind(backend: keyring.backend.KeyringBackend) -> str:
    """``secure``, ``plaintext`` or ``none`` for a keyring backend."""
    if isinstance(backend, fail.Keyring | null.Keyring):
        return "none"
    if isinstance(backend, chainer.ChainerBackend):
        kinds = {keyring_kind(b) for b in backend.backends}
        return "secure" if "secure" in kinds else "plaintext" if "plaintext" in kinds else "none"
    module = type(backend).__module__
    if module.startswith("keyrings.alt") or "plaintext" in type(backend).__name__.lower():
        return "plaintext"
    return "secure"


def check_keyring(settings: Settings) -> Check:
    """Where a sign-in's refresh token would be kept, and whether that is safe and lasting."""
    backend = keyring.get_keyring()
    label = f"{type(backend).__module__}.{type(backend).__name__}"
    kind = keyring_kind(backend)
    if kind == "secure":
        return Check("keyring", "ok", f"secure: {label}")
    if settings.api_token or settings.sandbox:
        return Check("keyring", "skip", f"{kind}: {label}; not needed with a pasted token or the sandbox")
    if kind == "plaintext":
        return Check(
            "keyring",
            "warn",
            f"plaintext: {label} keeps secrets unencrypted on disk",
            "use the OS keychain (macOS Keychain, Windows Credential Manager, a Secret Service on Linux)",
        )
    if settings.allow_file_store:
        return Check("keyring", "warn", f"none ({label}); the sign-in is kept in a 0600 file instead")
    return Check(
        "keyring",
        "fail",
        f"none ({label}): a browser sign-in lasts only until the server stops",
        "install and unlock a Secret Service (gnome-keyring or KeePassXC), or set "
        "VERTEXSMS_ALLOW_FILE_STORE=1 to keep it in a 0600 file, or set VERTEXSMS_API_TOKEN",
    )


def state_dir() -> Path:
    """The platform state directory for vertex-stdio (non-secret sign-in state, caches)."""
    return platformdirs.user_state_path(APP_NAME, appauthor=False)


def check_directory(name: str, path: Path) -> Check:
    """``path`` exists (or can be created), is writable, and is private (0700; files 0600)."""
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return Check(name, "ok", f"{path} (created on first use)")
        return Check(name, "fail", f"{path} cannot be created", f"create it: mkdir -p -m 700 '{path}'")
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return Check(
            name, "fail", f"{path} is not a writable directory", f"fix its owner or mode: chmod 700 '{path}'"
        )
    if sys.platform == "win32":
        return Check(name, "ok", str(path))
    loose = [p for p in (path, *path.iterdir()) if _exposed(p)]
    if loose:
        names = ", ".join(p.name for p in loose[:3])
        return Check(name, "warn", f"{path}: open to others ({names})", f"chmod -R go-rwx '{path}'")
    return Check(name, "ok", str(path))


def _exposed(path: Path) -> bool:
    """A file others can read or write, or a folder others can write to (a listable folder
    of private files is not worth a warning)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    return bool(mode & (0o022 if path.is_dir() else 0o077))


def check_dirs() -> list[Check]:
    """The state and log directories; the log check names the log file."""
    logs = check_directory("log directory", log_dir())
    logs = Check(logs.name, logs.status, f"{logs.detail}; file {LOG_FILE_NAME}", logs.fix)
    return [check_directory("state directory", state_dir()), logs]


def oauth_available() -> bool:
    """True when this build has browser sign-in (``vertex_stdio.app.signin``)."""
    return _oauth_commands() is not None


def _oauth_commands() -> Any:
    # Imported by name so this module type-checks before (and without) the oauth package.
    try:
        return importlib.import_module("vertex_stdio.app.signin")
    except ImportError:
        return None


def _kept_token() -> str | None:
    """Where ``login --token`` kept a token (the state file says; no keyring read), or None."""
    try:
        from vertex_stdio.vertexsms.apitoken import kept_here
    except ImportError:  # a build without the sign-in core keeps no token
        return None
    record = kept_here()
    return record.store if record is not None else None


def check_token(settings: Settings) -> Check:
    """Whether a pasted API token is set (its value is never shown)."""
    if settings.api_token:
        return Check(
            "api token", "ok", "VERTEXSMS_API_TOKEN is set (value not shown); it is used for every call"
        )
    if settings.sandbox:
        return Check("api token", "skip", "sandbox: no token needed")
    kept = _kept_token()
    if kept is not None:
        return Check(
            "api token", "ok", f"kept by login --token in {kept} (value not shown); used for every call"
        )
    if oauth_available():
        return Check("api token", "skip", "not set; browser sign-in is used instead")
    return Check(
        "api token",
        "fail",
        f"not set, and {NOT_IN_BUILD}: every call would answer AUTH_REQUIRED",
        "set VERTEXSMS_API_TOKEN (create one at https://tool.vertexsms.com/settings/api)",
    )


@dataclass(frozen=True)
class SignIn:
    """What the sign-in store says, reduced to what doctor shows."""

    signed_in: bool
    expires_at: float | None = None
    readable: bool = True


def read_sign_in(settings: Settings) -> SignIn | None:
    """The stored sign-in, or None when this build has no browser sign-in.

    The one place that knows how to ask ``vertex_stdio.oauth``: through
    ``commands.status(vertexsms_profile(settings), as_json=True, out=...)``, reading ``signed_in`` and the first
    usable session's ``access_token_expires_at`` (epoch seconds or ISO 8601).
    """
    commands = _oauth_commands()
    if commands is None:
        return None
    import anyio

    buffer = io.StringIO()
    try:
        from vertex_stdio.vertexsms.signin import vertexsms_profile

        profile = vertexsms_profile(settings)
        anyio.run(lambda: commands.status(profile, as_json=True, out=buffer))
        data = json.loads(buffer.getvalue())
    except (VertexError, OSError, ValueError):
        return SignIn(signed_in=False, readable=False)
    if not isinstance(data, dict):
        return SignIn(signed_in=False, readable=False)
    sessions = [s for s in data.get("sessions", []) if isinstance(s, dict) and s.get("usable_here")]
    expires = sessions[0].get("access_token_expires_at") if sessions else data.get("expires_at")
    return SignIn(bool(data.get("signed_in")), _epoch(expires))


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def check_sign_in(settings: Settings, now: float | None = None) -> Check:
    """The browser sign-in and its expiry; skipped when a token or the sandbox is used."""
    if settings.api_token or settings.sandbox or _kept_token() is not None:
        return Check("sign-in", "skip", "not used: a pasted API token or the sandbox supplies the token")
    state = read_sign_in(settings)
    if state is None:
        return Check("sign-in", "skip", NOT_IN_BUILD, "set VERTEXSMS_API_TOKEN")
    if not state.readable:
        return Check("sign-in", "warn", "could not read the sign-in state", f"run: {command('status')}")
    if not state.signed_in:
        # Nothing to fix: the first tool call that needs VertexSMS signs in.
        return Check(
            "sign-in",
            "skip",
            "not signed in yet; the first tool call that needs VertexSMS signs you in",
            f"to sign in now: {command('login')}",
        )
    if state.expires_at is None:
        return Check("sign-in", "ok", "signed in")
    when = datetime.fromtimestamp(state.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    left = state.expires_at - (time.time() if now is None else now)
    if left <= 0:
        return Check("sign-in", "ok", f"signed in; access token expired {when}, renewed on the next call")
    return Check("sign-in", "ok", f"signed in; access token valid until {when} ({int(left // 60)} min)")
