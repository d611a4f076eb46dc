"""A scripted browser for sign-in tests, used as ``BROWSER="python browser.py %s"``.

It opens the one-time start URL, keeps the cookie it sets (like a browser: per host and path),
follows the redirect to the authorization URL, submits the test AS's consent form (or declines),
and lands on the loopback callback carrying its cookies.  ``TEST_BROWSER_MODE``: consent
(default), decline, ignore, bad-state, bad-iss, no-iss, replay (the valid callback twice at once,
then once more), no-cookie (the callback without the cookie), open-twice (the start URL fetched
twice, as when someone else also has it), remote (a browser on another machine, given the
authorization URL itself: the callback address is written to ``TEST_BROWSER_REDIRECT`` instead of
being visited), device / device-decline (the RFC 8628 verification page: confirm the user code,
then consent or decline).  It writes junk to stdout on purpose: it must never reach fd 1 of
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
POST_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/>')


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


def _visit(url: str, cookies: httpx2.Cookies) -> None:
    _append("TEST_BROWSER_URLS", url)
    try:
        with httpx2.Client(timeout=40, cookies=cookies) as client:
            done = client.get(url)
    except (httpx2.ConnectError, httpx2.RemoteProtocolError, httpx2.ReadError):
        # Refused, or accepted into the listen backlog just as the receiver closed its port and
        # then reset without an answer (a visit racing the shutdown, seen under load): either way
        # the port answered nothing, so nothing was spent.
        _append("TEST_BROWSER_LOG", "refused")
        return
    _append("TEST_BROWSER_LOG", f"{done.status_code} {done.text}")


def callback(url: str, cookies: httpx2.Cookies, *, times: int) -> None:
    """Land on the callback; with ``times`` > 1 the same URL twice at once, then again after."""
    if times == 1:
        _visit(url, cookies)
        return
    twins = [threading.Thread(target=_visit, args=(url, cookies)) for _ in range(2)]
    for thread in twins:
        thread.start()
    for thread in twins:
        thread.join()
    for _ in range(times - 2):
        _visit(url, cookies)


def device(url: str, *, decline: bool) -> int:
    """The person's side of RFC 8628: confirm the code on the verification page, then consent."""
    with httpx2.Client(timeout=10, follow_redirects=False) as client:
        response = client.get(url)
        answered = False
        for _ in range(20):
            if response.is_redirect:
                response = client.get(urljoin(str(response.url), response.headers["location"]))
                continue
            consent = dict((kind, path) for path, kind in FORM.findall(response.text))
            form = POST_FORM.search(response.text) if response.status_code == 200 else None
            if consent:
                response = client.post(urljoin(str(response.url), consent["abort" if decline else "confirm"]))
                answered = True
            elif form and not (decline and answered):  # the user-code pages and their hand-over forms
                fields = dict(HIDDEN.findall(response.text))
                fields.setdefault("user_code", parse_qs(urlsplit(url).query).get("user_code", [""])[0])
                response = client.post(urljoin(str(response.url), form.group(1)), data=fields)
            else:
                _append("TEST_BROWSER_LOG", f"{response.status_code} {response.text}")
                return 0 if response.status_code == 200 else 2
    return 3


def remote(url: str) -> int:
    """A browser elsewhere: consent at the authorization URL, note where it lands (cannot load it)."""
    with httpx2.Client(timeout=10, follow_redirects=False) as client:
        handed = httpx2.Response(302, headers={"location": url}, request=httpx2.Request("GET", url))
        target = through_consent(client, handed)
    if target is None:
        return 2
    _append("TEST_BROWSER_REDIRECT", target)
    return 0


def main(url: str) -> int:
    print("scripted browser junk on stdout")  # noqa: T201 - deliberate: must not reach the JSON-RPC stream
    _append("TEST_BROWSER_OPENS", "opened")
    mode = os.environ.get("TEST_BROWSER_MODE", "consent")
    if mode == "ignore":
        return 0
    if mode.startswith("device"):
        return device(url, decline=mode == "device-decline")
    if mode == "remote":
        return remote(url)
    with httpx2.Client(timeout=10, follow_redirects=False) as client:
        response = client.get(url)
        if mode == "open-twice":
            _append("TEST_BROWSER_LOG", f"second start: {client.get(url).status_code}")
        if not response.is_redirect:
            _append("TEST_BROWSER_LOG", f"start: {response.status_code}")
            return 4
        target = through_consent(client, response, decline=mode == "decline")
        if target is None:
            return 2
        jar = httpx2.Cookies() if mode == "no-cookie" else client.cookies
        callback(tamper(target, mode), jar, times=3 if mode == "replay" else 1)
    return 0


def through_consent(client: httpx2.Client, response: httpx2.Response, *, decline: bool = False) -> str | None:
    """From the start URL's redirect, through the AS's consent form, to the callback URL (not visited)."""
    redirect_uri = parse_qs(urlsplit(response.headers["location"]).query)["redirect_uri"][0]
    for _ in range(20):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(redirect_uri):
                return target
            response = client.get(target)
            continue
        match = FORM.search(response.text) if response.status_code == 200 else None
        if not match:
            return None
        actions = dict((kind, path) for path, kind in FORM.findall(response.text))
        response = client.post(urljoin(str(response.url), actions["abort" if decline else "confirm"]))
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
