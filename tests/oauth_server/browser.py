"""A scripted browser for sign-in tests, used as ``BROWSER="python browser.py %s"``.

It follows the authorization URL with cookies, submits the test AS's consent form (or declines),
and lands on the loopback callback.  ``TEST_BROWSER_MODE``: consent (default), decline, ignore,
bad-state, bad-iss, no-iss, replay (the valid callback twice at once, then once more).  It writes junk to stdout on purpose: it must never reach fd 1 of
the MCP server.  ``TEST_BROWSER_LOG`` receives one line per visit to the callback;
``TEST_BROWSER_OPENS`` one line per start of this browser; ``TEST_BROWSER_URLS`` every callback
URL visited (with its code: test-only, for the secret-hygiene scan).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx2

FORM = re.compile(r'action="(/interaction/[^"]+/(confirm|abort))"')


def tamper(url: str, mode: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if mode == "bad-state":
        query["state"] = "forged-" + query.get("state", "")
    elif mode == "bad-iss":
        query["iss"] = "http://127.0.0.1:1/evil"
    elif mode == "no-iss":
        query.pop("iss", None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _append(variable: str, line: str) -> None:
    path = os.environ.get(variable)
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")


def _visit(url: str) -> None:
    _append("TEST_BROWSER_URLS", url)
    try:
        with httpx2.Client(timeout=40) as client:
            done = client.get(url)
    except httpx2.ConnectError:
        _append("TEST_BROWSER_LOG", "refused")
        return
    _append("TEST_BROWSER_LOG", f"{done.status_code} {done.text}")


def callback(url: str, *, times: int) -> None:
    """Land on the callback; with ``times`` > 1 the same URL twice at once, then again after."""
    if times == 1:
        _visit(url)
        return
    twins = [threading.Thread(target=_visit, args=(url,)) for _ in range(2)]
    for thread in twins:
        thread.start()
    for thread in twins:
        thread.join()
    for _ in range(times - 2):
        _visit(url)


def main(url: str) -> int:
    print("scripted browser junk on stdout")  # noqa: T201 - deliberate: must not reach the JSON-RPC stream
    _append("TEST_BROWSER_OPENS", "opened")
    mode = os.environ.get("TEST_BROWSER_MODE", "consent")
    if mode == "ignore":
        return 0
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    with httpx2.Client(timeout=10, follow_redirects=False) as client:
        response = client.get(url)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(redirect_uri):
                    callback(tamper(target, mode), times=3 if mode == "replay" else 1)
                    return 0
                response = client.get(target)
                continue
            match = FORM.search(response.text) if response.status_code == 200 else None
            if not match:
                return 2
            actions = dict((kind, path) for path, kind in FORM.findall(response.text))
            action = actions["abort" if mode == "decline" else "confirm"]
            response = client.post(urljoin(str(response.url), action))
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
