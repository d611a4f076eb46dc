"""How this installation of vertex-stdio is started again: the command every printed advice names.

A bare ``vertex-stdio`` is often not on PATH (``uvx``, ``uv run``, a venv that is not activated,
a desktop app that does not see the login shell's PATH), so every command we print, every entry
``setup`` writes and every error's advice starts with ``launcher()``: the absolute path of the
running console script, ``<abs uvx> [--from SPEC] vertex-stdio`` for uvx's disposable cache, or
``<python> -m vertex_stdio``.  Reads the environment and our own installation; writes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

SCRIPT_NAME = "vertex-stdio"
DIST_NAME = "vertex-stdio"


def _is_uvx_cache(path: Path) -> bool:
    """True when ``path`` lives in uv's disposable tool cache (gone after ``uv cache clean``)."""
    return any(part.startswith("archive-v") for part in path.parts)


def install_spec(direct_url: str | None) -> str | None:
    """What ``uvx --from`` needs to install this same build again (PEP 610 ``direct_url.json``).

    None for an install from an index, where the plain name is enough.  A local wheel or folder
    becomes its absolute path; a VCS install its ``git+URL@commit``; any other URL stays a URL.
    """
    if not direct_url:
        return None
    try:
        info = json.loads(direct_url)
    except ValueError:
        return None
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str):
        return None
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        return f"{vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    parts = urlsplit(url)
    if parts.scheme == "file":
        from urllib.request import url2pathname  # imported here: it costs ~10 ms at start-up

        return url2pathname(unquote(parts.path))
    return url


def _our_direct_url() -> str | None:
    from importlib import metadata  # imported here: it costs ~15 ms at start-up

    try:
        return metadata.distribution(DIST_NAME).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None


def _uvx(env: Mapping[str, str]) -> list[str] | None:
    """Absolute ``uvx`` (next to the ``uv`` that started us when uv says which), else ``uv tool run``."""
    uv = env.get("UV")
    if uv and Path(uv).is_file():
        sibling = Path(uv).with_name("uvx" + Path(uv).suffix)
        return [str(sibling)] if sibling.is_file() else [str(Path(uv).absolute()), "tool", "run"]
    found = shutil.which("uvx")
    return [str(Path(found).absolute())] if found else None


def server_command(
    argv0: str | None = None,
    executable: str | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    direct_url: str | None = None,
) -> list[str]:
    """The absolute command that starts this installation of vertex-stdio again.

    Tries, in order: the running ``vertex-stdio`` script (``argv[0]``; a venv's or a ``uv tool``
    install's), the script next to this interpreter, ``vertex-stdio`` on PATH, and finally
    ``<python> -m vertex_stdio``.  A script in uvx's temporary cache becomes ``<abs uvx> [--from
    SPEC] vertex-stdio`` (SPEC: the wheel, folder or VCS URL it was run from), which survives
    cache clean-ups.  ``direct_url`` is a seam for tests (default: our own ``direct_url.json``).
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = executable or sys.executable
    candidates: list[Path] = []
    if argv0 and Path(argv0).stem == SCRIPT_NAME:
        candidates.append(Path(argv0))
    bin_dir = Path(executable).parent
    candidates += [bin_dir / SCRIPT_NAME, bin_dir / f"{SCRIPT_NAME}.exe"]
    found = shutil.which(SCRIPT_NAME)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            resolved = candidate.absolute()
            uvx = _uvx(env) if _is_uvx_cache(resolved) else None
            if uvx:
                spec = install_spec(direct_url if direct_url is not None else _our_direct_url())
                return [*uvx, *(["--from", spec] if spec else []), SCRIPT_NAME]
            return [str(resolved)]
    return [str(Path(executable).absolute()), "-m", "vertex_stdio"]


@functools.cache
def launcher() -> str:
    """``server_command()`` as one shell-quoted string, worked out once per process."""
    return shlex.join(server_command())


def command(arguments: str) -> str:
    """``launcher()`` followed by ``arguments`` (already shell-quoted), e.g. ``command("login")``."""
    return f"{launcher()} {arguments}" if arguments else launcher()
