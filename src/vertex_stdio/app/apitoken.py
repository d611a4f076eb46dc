"""``vertex-stdio login --token``, and what ``status`` and ``logout`` say and do about the kept token.

The token comes from a hidden prompt (a terminal) or from stdin (piped), never from argv; it is
checked once against VertexSMS and kept by ``vertexsms.apitoken``.  Nothing here prints it.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, EXIT_USAGE, VertexError
from vertex_stdio.core.launcher import command
from vertex_stdio.vertexsms import apitoken
from vertex_stdio.vertexsms.settings import Settings


def no_token_in_argv() -> str:
    """The usage error for ``login --token VALUE``: how to give it instead (commands as printed)."""
    login = command("login --token")
    return (
        "vertex-stdio login: --token takes no value: a token in a command line is visible to other "
        "users of this computer and stays in your shell history, so it was not used (nothing was kept). "
        f"Run `{login}` and paste the token at the hidden prompt, or pipe it in: "
        f"`printf '%s' \"$TOKEN\" | {login}`."
    )


def login_token(settings: Settings, *, inp: TextIO, out: TextIO, err: TextIO, value: object) -> int:
    """Keep a pasted API token: 0 when checked and kept, 1 when refused or not kept, 2 for argv."""
    if value is not True:
        err.write(no_token_in_argv() + "\n")
        return EXIT_USAGE
    try:
        stored = apitoken.keep_pasted(settings, inp=inp, again=command("login --token"))
    except apitoken.TokenRefused as exc:
        err.write(f"Not kept: {exc}\n")
        return EXIT_FIXABLE
    lines = [
        f"Kept your VertexSMS API token in {stored.store}. {stored.note}",
        "The server uses it whenever VERTEXSMS_API_TOKEN is unset (before any browser sign-in); "
        f"`{command('logout')}` forgets it.",
    ]
    if stored.file_store:
        lines.append(
            "Set VERTEXSMS_ALLOW_FILE_STORE=1 in the client's config too, so the server reads that file."
        )
    if settings.api_token:
        lines.append("VERTEXSMS_API_TOKEN is set here, so this shell's commands use that one instead.")
    out.write("\n".join(lines) + "\n")
    out.flush()
    return EXIT_OK


def kept_token_wins(out: TextIO) -> bool:
    """``login`` (browser) with a kept token: say it would never be used, and how to switch; True."""
    record = apitoken.kept_here()
    if record is None:
        return False
    out.write(
        f"An API token kept by `{command('login --token')}` is in {record.store}, and the server uses it "
        f"before any browser sign-in, so none was made. Run `{command('logout')}` first to sign in "
        "with your browser instead.\n"
    )
    return True


def status_details(settings: Settings, details: dict[str, Any]) -> dict[str, Any]:
    """``details`` (``vertexsms.signin.status_details``) plus where the kept token is, never the token."""
    record = apitoken.kept_here()
    fields = {**details["fields"], "api_token_kept_in": record.store if record else None}
    lines = list(details["lines"])
    notes = list(details["notes"])
    if record is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.kept_at)) if record.kept_at else "?"
        lines.append(f"API token: kept in {record.store} (since {when}; `{command('logout')}` forgets it)")
        if settings.api_token is None:
            notes.append("The server uses the kept API token, so browser sign-in is not used.")
    else:
        # No command here: the sign-in advice that ends `status` leads with the browser `login`.
        lines.append("API token: none kept by login --token")
    used = settings.api_token is not None or record is not None
    return {**details, "fields": fields, "lines": lines, "notes": notes, "authenticated_otherwise": used}


async def forget_token(settings: Settings, out: TextIO) -> int:
    """``logout``'s first step: forget the kept token in every store; 1 when a store refused."""
    try:
        record = await apitoken.forget(settings)
    except VertexError as exc:
        out.write(f"Could not forget the kept API token: {exc.message}\n")
        return EXIT_FIXABLE
    if record is not None:
        out.write(f"Forgot the API token kept in {record.store}.\n")
    return EXIT_OK
