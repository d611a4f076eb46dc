"""Another local account replaying a leaked authorization URL (stdlib only: runs as ``nobody``).

Reads the victim's authorization URL on stdin, signs in at the test AS with its *own* browser
session, and delivers the resulting code (with the victim's ``state``) to the loopback receiver
first, without the victim browser's cookie.  Prints ``<status> <code>`` for the callback it
delivered (``refused`` when the port was closed).  With the argument ``start`` it instead opens
the start URL read on stdin first and prints the status it got.  Test-only.
"""

from __future__ import annotations

import http.cookiejar
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urljoin, urlsplit

FORM = re.compile(r'action="(/interaction/[^"]+/confirm)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _open(opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None) -> tuple[int, str, str]:
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, response.headers.get("location", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("location", ""), exc.read().decode(errors="replace")


def main() -> int:
    url = sys.stdin.readline().strip()
    if sys.argv[1:] == ["start"]:
        status, _, _ = _open(urllib.request.build_opener(_NoRedirect()), url)
        print(status)  # noqa: T201 - the test reads this
        return 0
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    jar = http.cookiejar.CookieJar()  # the attacker's own session at the AS
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    status, location, body = _open(opener, url)
    for _ in range(20):
        if location:
            target = urljoin(url, location)
            if target.startswith(redirect_uri):
                code = parse_qs(urlsplit(target).query).get("code", [""])[0]
                plain = urllib.request.build_opener(_NoRedirect())  # no cookie of the victim's
                try:
                    answer, _, _ = _open(plain, target)
                except urllib.error.URLError:
                    print(f"refused {code}")  # noqa: T201 - the test reads this
                    return 0
                print(f"{answer} {code}")  # noqa: T201 - the test reads this
                return 0
            url = target
            status, location, body = _open(opener, target)
            continue
        match = FORM.search(body) if status == 200 else None
        if not match:
            print(f"stuck {status}")  # noqa: T201
            return 2
        url = urljoin(url, match.group(1))
        status, location, body = _open(opener, url, data=b"")
    return 3


if __name__ == "__main__":
    sys.exit(main())
