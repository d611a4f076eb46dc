"""``vertex-stdio login`` / ``logout`` (and ``status``, from ``status.py``): exit codes 0 (done),
1 (fixable failure), 2 (usage)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TextIO

import anyio

from vertex_stdio.app.status import _say, _sessions
from vertex_stdio.app.status import status as status  # ``status`` is imported from here too
from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK, VertexError
from vertex_stdio.core.tasks import hosting
from vertex_stdio.oauth.device import DeviceFlow
from vertex_stdio.oauth.discovery import known_client
from vertex_stdio.oauth.grants import revoke
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.provider import OAuthTokenProvider
from vertex_stdio.oauth.running import SignInTask
from vertex_stdio.oauth.signin import Flow
from vertex_stdio.oauth.storage.anywhere import Found, every_store, find
from vertex_stdio.oauth.storage.secrets import keyring_problem, os_keyring
from vertex_stdio.oauth.storage.store import SessionKey, TokenStore

log = logging.getLogger(__name__)


async def login(
    profile: SignInProfile,
    *,
    scopes: Sequence[str] = (),
    no_browser: bool = False,
    device: bool = False,
    headless: str | None = None,
    out: TextIO,
    inp: TextIO | None = None,
    provider: OAuthTokenProvider | None = None,
) -> int:
    """Sign in now; 0 only when signed in and kept where later runs find it.

    The browser opens unless ``no_browser`` (print the link, take the pasted address back on
    ``inp``), ``device`` (RFC 8628 user code) or ``headless`` (why no browser can show here: the
    device grant when the server offers it, else the pasted address).
    """
    if scopes:
        profile = replace(profile, scopes=tuple(dict.fromkeys(scopes)))
    quiet = no_browser or device or headless is not None
    provider = provider or OAuthTokenProvider(profile, open_browser=not quiet, log_link=False)
    async with hosting(provider):  # the sign-in runs in this command's task group
        return await _login(
            provider,
            profile,
            quiet=quiet,
            no_browser=no_browser,
            device=device,
            headless=headless,
            out=out,
            inp=inp,
        )


async def _login(
    provider: OAuthTokenProvider,
    profile: SignInProfile,
    *,
    quiet: bool,
    no_browser: bool,
    device: bool,
    headless: str | None,
    out: TextIO,
    inp: TextIO | None,
) -> int:
    """``login``'s body, inside the task group its sign-in runs in."""
    name = profile.display_name
    try:
        refusal = _cannot_keep(provider.store, profile)
        if refusal:
            _say(out, refusal)
            return EXIT_FIXABLE
        if headless and not (device or no_browser):
            device = (await provider.target()).server.device_authorization_endpoint is not None
            _say(out, f"Signing in without opening a browser: {headless}.")
        job = await provider.start_signin(profile.scopes or (), device=device)  # in the run's group
        url = await _first(provider, job)
        flow = provider.flow
        if url and flow is not None:
            link = flow.authorization_url if isinstance(flow, Flow) and quiet else url
            _say(out, _instructions(flow, link, name, opened=not quiet))
        if url and isinstance(flow, Flow) and quiet:
            await _take_pasted(provider, job, inp or sys.stdin, out)
        tokens = await provider.finish_signin(job)
        kept = await provider.kept()
    except VertexError as exc:
        _say(out, f"Not signed in: {exc.message}")
        return EXIT_FIXABLE
    finally:
        await provider.aclose()
    if not kept:
        _say(out, _NOT_KEPT.format(store=provider.store.secrets.label))
        return EXIT_FIXABLE
    granted = " ".join(tokens.scopes) or "(server default)"
    _say(out, f"Signed in to {name}. Granted scopes: {granted}. Kept in {provider.store.secrets.label}.")
    return EXIT_OK


_NOT_KEPT = (
    "You signed in, but the sign-in could not be saved in {store}, so it ends with this command. "
    "See the warning above."
)


def _cannot_keep(store: TokenStore, profile: SignInProfile) -> str | None:
    """Why a sign-in made now could not outlive this command (checked before any browser)."""
    if store.secrets.persistent:
        return None
    why = keyring_problem(os_keyring()) or f"the secret store here is {store.secrets.label}"
    return (
        f"Not signed in: {why}, so a sign-in made now would be lost when this command ends. "
        "To keep it in a private file only you can read (mode 0600), run "
        f"`{profile.advice.login_command} --allow-file-store`, and "
        f"{profile.advice.allow_file_store_in_client} so the server finds it."
    )


def _instructions(flow: Flow | DeviceFlow, url: str, name: str, *, opened: bool) -> str:
    if isinstance(flow, DeviceFlow):
        lines = [
            "To sign in, open this page in a browser on any device:",
            "",
            f"  {flow.verification_uri}",
            "",
            f"and enter the code:  {flow.user_code}",
        ]
        if url != flow.verification_uri:
            lines += ["", f"(Or open {url} , which fills in the code.)"]
        if flow.foreign_host is not None:
            issuer = flow.target.server.issuer
            lines += [
                "",
                f"Warning: this page is on {flow.foreign_host}, not on the sign-in server {issuer}.",
                "Enter the code only if you trust that site to sign you in.",
            ]
        else:
            lines += ["", f"(The page is on {flow.host}, the sign-in server's own host.)"]
        return "\n".join([*lines, "", "Waiting for you to approve the sign-in… (Ctrl-C to stop)"])
    if opened:
        return (
            f"Opening your browser to sign in to {name}. If it does not open, use this link:"
            f"\n\n  {url}\n\nWaiting for you to sign in… (Ctrl-C to stop)"
        )
    return (
        f"Open this link in a browser, on this machine or any other, to sign in to {name}:"
        f"\n\n  {url}\n\n"
        "After you approve, the browser goes to an address on 127.0.0.1: a page that does not load on\n"
        "another machine, or says it belongs to another browser on this one. Copy that whole address\n"
        "from the address bar and paste it here.\n"
        "Paste the address and press Enter (Ctrl-C to stop):"
    )


async def _take_pasted(provider: OAuthTokenProvider, job: SignInTask, inp: TextIO, out: TextIO) -> None:
    """Feed pasted lines to the sign-in until it ends, takes an answer, or input ends (then the
    browser's redirect may still win)."""
    lines = _lines(inp)
    async with _until_done(job):
        while True:
            text = await lines.get()
            if text is None or job.done():
                return  # end of input: the loopback redirect can still finish it
            if not text.strip():
                continue
            problem = provider.paste(text)
            if problem is None:
                _say(out, "Checking the answer…")
                return
            _say(out, f"{problem} Paste it again (Ctrl-C to stop):")


def _lines(inp: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``inp`` read by a daemon thread (a blocked read must not keep the process alive)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits for it any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read() -> None:
        for line in iter(inp.readline, ""):
            put(line)
        put(None)

    threading.Thread(target=read, name="vertex-stdio-paste", daemon=True).start()
    return queue


async def _first(provider: OAuthTokenProvider, job: SignInTask) -> str | None:
    """The sign-in's link once it has one; None when the sign-in ended first or none came in 60 s."""
    async with _until_done(job):
        return await provider.wait_for_url(60.0)
    return None  # the job ended first


@contextlib.asynccontextmanager
async def _until_done(job: SignInTask) -> AsyncIterator[None]:
    """A block that is cancelled (and ends quietly) once ``job`` has ended."""
    async with anyio.create_task_group() as group:

        async def stop() -> None:
            await job.wait()
            group.cancel_scope.cancel()

        group.start_soon(stop)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


async def logout(
    profile: SignInProfile,
    *,
    out: TextIO,
    store: TokenStore | None = None,
    provider: OAuthTokenProvider | None = None,
    stores: Sequence[TokenStore] | None = None,
) -> int:
    """Revoke at the server, then forget locally; safe to run twice.

    The sign-in is looked for in every store it may be in (``stores``, by default
    ``every_store``: the keyring-sealed file and the plain file even without the setting that
    allows it), so a sign-in made with ``--allow-file-store`` is revoked by a plain ``logout``.
    One that cannot be read (a locked keyring) is neither revoked nor deleted: exit 1 with the fix.
    """
    provider = provider or OAuthTokenProvider(profile, store=store)
    candidates = list(stores) if stores is not None else every_store(profile, provider.store)
    code = EXIT_OK
    try:
        sessions = _sessions(provider.store)
        if not sessions:
            _say(out, "You were not signed in with a browser; nothing to sign out of there.")
            return EXIT_OK
        try:
            server = (await provider.target()).server
        except VertexError as exc:
            _say(out, f"Could not reach the sign-in server to revoke the tokens ({exc.message}).")
            server = None
        for account, record in sessions:
            key = record.key
            found = await find(candidates, key)
            if found.tokens is None and found.problems:
                _say(out, _unreadable(key, found, profile))
                code = EXIT_FIXABLE
                continue
            failed: list[str] = []
            if found.tokens is not None and server is not None and key.issuer == server.issuer:
                client = await known_client(provider.store, server, profile, None)
                secret = client.secret if client is not None and client.client_id == key.client_id else None
                method = client.auth_method if client is not None and secret else "none"
                failed = await revoke(
                    provider.http,
                    server,
                    client_id=key.client_id,
                    tokens=found.tokens,
                    client_secret=secret,
                    auth_method=method,
                )
            for each in candidates:
                await each.clear(key)
            note = f" (could not revoke the {', '.join(failed)} at the server)" if failed else ""
            _say(out, f"Signed out of {key.issuer}{note}.")
            log.info("signed out (%s)", account.split(" ")[0])
    except VertexError as exc:
        _say(out, f"Sign-out incomplete: {exc.message}")
        return EXIT_FIXABLE
    finally:
        await provider.aclose()
    return code


def _unreadable(key: SessionKey, found: Found, profile: SignInProfile) -> str:
    return (
        f"Could not read the sign-in to {key.issuer}, so it was neither revoked nor deleted: "
        f"{' '.join(found.problems)} Then run `{profile.advice.logout_command}` again."
    )
