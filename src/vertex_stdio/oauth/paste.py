"""Finishing a sign-in by pasting the browser's last address (or the bare code) on the terminal.

For a person whose browser runs on another machine (SSH, a container): the authorization server
redirects to this machine's loopback address, which their browser cannot load, but its address
bar still holds the whole answer.  Pasted text must be this sign-in's redirect address; its
``state`` then passes the receiver's own gate (``Receiver.deliver``), and ``iss`` and ``error`` are
checked by the sign-in exactly as for a redirect that reached the receiver.  Pure: no I/O.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from vertex_stdio.oauth.io.receiver import parse_query

MAX_PASTE = 8192


class PasteRefused(ValueError):
    """The pasted text cannot finish this sign-in; the message says what to paste instead."""


def _same_place(got: str, redirect_uri: str) -> bool:
    a, b = urlsplit(got), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def pasted_answer(text: str, redirect_uri: str, state: str, *, iss_required: bool) -> dict[str, str]:
    """The callback query that ``text`` carries; raises ``PasteRefused`` when it carries none.

    A whole address must point at ``redirect_uri``; a bare code stands for this sign-in's own
    answer (it was pasted here by the person), so it carries ``state`` but no ``iss``: it is
    refused when the server always identifies itself (RFC 9207), as a redirect without ``iss``
    would be.
    """
    text = text.strip()
    if not text:
        raise PasteRefused("Nothing was pasted.")
    if len(text) > MAX_PASTE:
        raise PasteRefused("That is too long to be a sign-in address.")
    if "://" in text:
        if not _same_place(text, redirect_uri):
            raise PasteRefused(
                f"That address is not where this sign-in ends: it should start with {redirect_uri}"
            )
        query = parse_query(urlsplit(text).query)
        if "code" not in query and "error" not in query:
            raise PasteRefused("That address carries no sign-in answer (no code); copy the whole address.")
        return query
    if any(c.isspace() for c in text) or "=" in text or "/" in text:
        raise PasteRefused("That is neither the whole address nor a sign-in code.")
    if iss_required:
        raise PasteRefused(
            "This authorization server names itself in the address (iss), which is checked: "
            "paste the whole address from the browser's address bar, not only the code."
        )
    return {"code": text, "state": state}
