"""A real headless Chromium (Debian's ``chromium``), driven over its DevTools pipe.

``--remote-debugging-pipe`` makes Chromium read DevTools commands from fd 3 and write answers
to fd 4, each a JSON object ended by NUL: no port, no websocket library, nothing downloaded.
``Chromium`` opens pages in tabs (``Tab``) that can read the page, run a line of JavaScript as
the page and click a button as a person would (the form submits with the page's cookies).
Every wait is bounded; ``close`` ends the browser (use it as a context manager).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI; Chromium's sandbox refuses root
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
WAIT = 30.0


def chromium_path() -> str | None:
    """The installed Chromium, if any (``chromium`` on Debian, ``chromium-browser`` elsewhere)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser with its own profile in ``profile``."""

    def __init__(self, profile: Path) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()

        def on_fds_3_and_4() -> None:
            # Above 9 first, so neither lands on the other's target; dup2 makes them inheritable.
            high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(answers_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=on_fds_3_and_4,
            close_fds=False,  # else fds 3 and 4 are closed after the dup2
        )
        os.close(commands_r)
        os.close(answers_w)
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Run one DevTools command; its ``result`` (raises on a DevTools error)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + WAIT
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._answers, 65536)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\0")
        found = json.loads(line)
        assert isinstance(found, dict)
        return found

    def open(self, url: str) -> Tab:
        """A new tab that has loaded ``url`` (as if the system opened the link in this browser)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, session)
        tab.send("Page.enable")
        before = tab.loads()
        tab.send("Page.navigate", {"url": url})
        tab.wait_loaded(before)
        return tab

    def close(self) -> None:
        """End the browser (its profile is the caller's to remove)."""
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            self._process.kill()
        try:
            self._process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=WAIT)
        os.close(self._commands)
        os.close(self._answers)


class Tab:
    """One page of the browser."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self._browser = browser
        self._session = session
        self._serial = 0

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._browser.send(method, params, self._session)

    def run(self, expression: str) -> Any:
        """The value of ``expression`` evaluated in the page (awaited when it is a promise)."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def loads(self) -> str:
        """A marker of the document now shown (changes when a new document has loaded)."""
        self._serial += 1
        try:
            self.run(f"window.__loaded_mark = {self._serial}")
        except RuntimeError:
            return ""
        return str(self._serial)

    def wait_loaded(self, before: str) -> None:
        """Wait (bounded) until a new document replaced the one marked ``before`` and is loaded."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                state = self.run(
                    "[String(window.__loaded_mark), document.readyState, location.href].join(' ')"
                )
            except RuntimeError:
                state = ""
            mark, _, rest = str(state).partition(" ")
            if state and mark != before and rest.startswith("complete") and not rest.endswith("about:blank"):
                return
            time.sleep(0.05)
        raise TimeoutError("the page did not load")

    def text(self) -> str:
        """What the page shows, as text."""
        return str(self.run("document.body ? document.body.innerText : ''"))

    def status(self) -> int:
        """The HTTP status of the document now shown."""
        return int(self.run("performance.getEntriesByType('navigation')[0].responseStatus"))

    def click(self, selector: str) -> None:
        """Click the element ``selector`` and wait for the page it leads to."""
        before = self.loads()
        self.run(f"document.querySelector({json.dumps(selector)}).click()")
        self.wait_loaded(before)
