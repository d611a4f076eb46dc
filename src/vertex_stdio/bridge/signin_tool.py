"""What the proxy says about signing in: the ``sign_in`` tool it lists before a sign-in, that
tool's answer, the "not signed in" error a tool call gets meanwhile, and the sign-in link and
advice every auth error of the remote carries.  Words only: the proxy does the signing in.
"""

from __future__ import annotations

from typing import Any

from vertex_stdio.bridge.offer import LISTS, Offer
from vertex_stdio.bridge.servers import RemoteServer
from vertex_stdio.core.errors import AuthError, AuthRequired, VertexError
from vertex_stdio.core.launcher import command

SIGN_IN = "sign_in"
SHOWN_TOOLS = 20  # the sign-in's answer names this many tools, then says how many more


def instructions(host: str) -> str:
    """``initialize``'s instructions while nothing is cached: how the client gets to the tools."""
    return (
        f"Tools, resources and prompts of {host}. If it needs a sign-in and "
        f"you are not signed in yet, its tools list offers {SIGN_IN}: call it to sign in "
        "with your browser; then its tools appear."
    )


def sign_in_tool(host: str) -> dict[str, Any]:
    """The one tool listed while a remote that asks for a sign-in has told us nothing else."""
    return {
        "name": SIGN_IN,
        "title": f"Sign in to {host}",
        "description": (
            f"Sign in to {host} with your browser (vertex-stdio keeps the sign-in in the OS keyring). "
            f"Call this first: {host}'s own tools, resources and prompts appear once you are signed in."
        ),
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "annotations": {"readOnlyHint": True, "openWorldHint": True},
    }


def signed_in(host: str, offer: Offer) -> dict[str, Any]:
    """``sign_in``'s result: what the remote offers now (the counts also as structured content)."""
    counts = {name: len(offer.items(name)) for name in LISTS}
    names = [str(t.get("name"))[:64] for t in offer.items("tools")]
    more = f" and {len(names) - SHOWN_TOOLS} more" if len(names) > SHOWN_TOOLS else ""
    tools = ", ".join(names[:SHOWN_TOOLS]) + more or "none"
    text = (
        f"Signed in to {host}. It offers {counts['tools']} tools ({tools}), "
        f"{counts['resources']} resources, {counts['templates']} resource templates and "
        f"{counts['prompts']} prompts; the lists have been updated."
    )
    return {"content": [{"type": "text", "text": text}], "structuredContent": counts, "isError": False}


def not_signed_in(host: str, url: str | None) -> AuthRequired:
    """A tool called before the first sign-in: the browser sign-in's link when it has one."""
    where = f"Open {url} to sign in, then call the tool again (or call {SIGN_IN})." if url else ""
    return AuthRequired(
        f"You are not signed in to {host}, so its tools are not known yet. "
        f"{where or f'Call {SIGN_IN}, then call the tool again.'}",
        authorization_url=url,
    )


def worded(error: VertexError, remote: RemoteServer) -> VertexError:
    """Auth errors carry this server's sign-in link and how to sign in to it (others pass as they are)."""
    if isinstance(error, AuthError):
        advice = f"Call the {SIGN_IN} tool, or run `{command('login ' + remote.server_option)}`."
        signin = error.extra.get("authorization_url") or remote.url
        error.extra.update(signin_url=signin, how_to_sign_in=advice)
    return error
