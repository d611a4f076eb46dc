"""The approval pages (pure): the form with the send in full, and the static answers.

Everything shown is escaped; nothing is taken from the request.  The form posts back to its own
one-time path with the CSRF token; the page allows no script and no other form target (CSP).
"""

from __future__ import annotations

import html

from vertex_stdio.vertexsms.approval.desk import Approval

CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

_STYLE = """body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}dt{font-weight:600}dd{margin:0 0 .6em}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f4f4;padding:.8em;border-radius:4px}
button{font-size:1em;padding:.5em 1.4em;margin-right:1em}"""

_HEAD = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{style}</style></head>'

STATIC: dict[str, tuple[str, str]] = {
    "approved": (
        "Approved",
        "This SMS will be sent once. You may close this tab and go back to your assistant.",
    ),
    "declined": ("Declined", "This SMS will not be sent. You may close this tab."),
    "used": (
        "Already decided",
        "This approval was already used or decided, so this answer changed nothing. You may close this tab.",
    ),
    "expired": (
        "This approval has expired",
        "Nothing was sent. Ask your assistant to send the message again for a new approval link.",
    ),
    "other-browser": (
        "This approval belongs to another browser",
        "This link was first opened in another browser (or by another account on this computer), so it "
        "cannot be answered here. Nothing was approved.",
    ),
    "forbidden": ("Not accepted", "This answer did not come from the approval page, so it was not used."),
    "not-found": ("Not found", "There is nothing here. You may close this tab."),
}


def static(kind: str) -> bytes:
    """The page for ``kind`` (a key of ``STATIC``); its content never depends on the request."""
    title, text = STATIC[kind]
    body = f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    return (_HEAD.format(title=html.escape(title), style=_STYLE) + body).encode("utf-8")


def form(approval: Approval, expires_in: float) -> bytes:
    """The page a person approves or declines ``approval`` on: recipient, sender, the whole text,
    parts, price and today's totals, with Approve and Decline (a POST carrying the CSRF token)."""
    s = approval.summary
    e = html.escape
    rows = (
        ("To", s.recipient),
        ("From", s.sender),
        ("Parts", str(s.parts)),
        ("Price", s.price),
        ("Sent today (last 24 h)", s.today),
    )
    facts = "".join(f"<dt>{e(name)}</dt><dd>{e(value)}</dd>" for name, value in rows)
    minutes = max(1, int(expires_in // 60))
    body = (
        f"<body><h1>Send this SMS?</h1>{f'<p>{e(s.where)}</p>' if s.where else ''}<dl>{facts}</dl>"
        f'<p>The whole text (invisible characters written as ⟨U+…⟩):</p><pre id="text">{e(s.text)}</pre>'
        f'<form method="post" action="/approve/{e(approval.nonce)}">'
        f'<input type="hidden" name="csrf" value="{e(approval.csrf)}">'
        '<button type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="decline">Decline</button></form>'
        f"<p>This approval is for this one send only and expires in about {minutes} minutes.</p></body></html>"
    )
    return (_HEAD.format(title="Approve an SMS", style=_STYLE) + body).encode("utf-8")
