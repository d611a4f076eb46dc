"""One interactive sign-in: authorization code + PKCE S256 through the loopback receiver.

``begin`` binds the receiver, settles the client (which may register it) and builds the
authorization URL, which only the receiver's one-time start URL (``Flow.url``) redirects to;
``complete`` waits for the callback (or an answer pasted through ``paste``), checks ``iss``
(RFC 9207) before anything else, then ``error``, then redeems the code.  The caller owns the
receiver's lifetime: call ``Flow.aclose`` in ``finally``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.oauth.discovery import ClientSource
from vertex_stdio.oauth.grants import exchange_code
from vertex_stdio.oauth.io.http import OAuthHttp
from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.paste import PasteRefused, pasted_answer
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.core import (
    Tokens,
    authorization_url,
    check_iss,
    new_state,
    new_verifier,
    s256_challenge,
)
from vertex_stdio.oauth.protocol.metadata import Client, Target

log = logging.getLogger(__name__)


class Flow:
    """A sign-in whose URL is ready; ``complete`` finishes it."""

    def __init__(
        self,
        http: OAuthHttp,
        target: Target,
        client: Client,
        receiver: Receiver,
        state: str,
        scopes: tuple[str, ...],
        profile: SignInProfile,
    ) -> None:
        self.target = target
        self.client = client
        self.scopes = scopes
        self._http = http
        self._receiver = receiver
        self._verifier = new_verifier()
        self._state = state
        self._name = profile.display_name
        self._again = f"Try `{profile.advice.login_command}` again."
        self._login = profile.advice.login_command
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": receiver.redirect_uri,
            "state": self._state,
            "code_challenge": s256_challenge(self._verifier),
            "code_challenge_method": "S256",
            "resource": target.resource,
        }
        if scopes:
            params["scope"] = " ".join(scopes)
        if "offline_access" in scopes:
            # OpenID Connect Core §11: offline_access is ignored unless consent is prompted.
            params["prompt"] = "consent"
        self.authorization_url = authorization_url(target.server.authorization_endpoint, params)
        receiver.arm(self.authorization_url)
        # Only the one-time start URL is ever shown or opened: the authorization URL's state
        # and challenge stay in the receiver, which redirects the first browser to fetch it.
        # The one exception is ``login --no-browser``, which prints ``authorization_url`` on the
        # person's own terminal for a browser elsewhere; its answer comes back pasted (``paste``).
        self.url = receiver.start_url

    async def complete(self, now: Callable[[], float]) -> Tokens:
        """Wait for the callback and redeem it; ``AuthRequired`` when it is refused or declined."""
        query = await self._receiver.wait()
        server = self.target.server
        problem = check_iss(server.issuer, query.get("iss"), required=server.iss_parameter_supported)
        if problem:
            self._receiver.finish("failed")
            log.warning("sign-in refused: %s", problem)
            raise AuthRequired(f"Sign-in was refused for your safety: {problem}. {self._again}")
        if "error" in query:
            return self._refused(query.get("error", ""))
        code = query.get("code")
        if not code:
            self._receiver.finish("failed")
            raise AuthRequired(f"The sign-in answer carried no authorization code. {self._again}")
        try:
            tokens = await exchange_code(
                self._http,
                server,
                client_id=self.client.client_id,
                code=code,
                verifier=self._verifier,
                redirect_uri=self._receiver.redirect_uri,
                resource=self.target.resource,
                scopes=self.scopes,
                now=now(),
                client_secret=self.client.secret,
                auth_method=self.client.auth_method,
            )
        except BaseException:
            self._receiver.finish("failed")
            raise
        self._receiver.finish("success")
        return tokens

    def _refused(self, error: str) -> Tokens:
        if error == "access_denied":
            self._receiver.finish("denied")
            raise AuthRequired(
                "Sign-in was declined in the browser, so this call was not made. "
                f"Run `{self._login}` when you want to connect {self._name}."
            )
        self._receiver.finish("failed")
        raise AuthRequired(f"The authorization server did not complete the sign-in. {self._again}")

    def paste(self, text: str) -> str | None:
        """Take an answer pasted on the terminal; None when taken, else why not (still waiting)."""
        try:
            query = pasted_answer(
                text,
                self._receiver.redirect_uri,
                self._state,
                iss_required=self.target.server.iss_parameter_supported,
            )
        except PasteRefused as exc:
            return str(exc)
        if not self._receiver.deliver(query):
            return (
                "That address belongs to another sign-in (its state is not this one's). "
                "Copy the address from the tab opened with the link above."
            )
        return None

    async def aclose(self) -> None:
        """Close the receiver (and drop the verifier with this object)."""
        await self._receiver.aclose()


async def begin(
    http: OAuthHttp,
    target: Target,
    client_for: ClientSource,
    scopes: tuple[str, ...],
    profile: SignInProfile,
) -> Flow:
    """Bind the receiver, settle the client and build the authorization URL (nothing opened yet)."""
    state = new_state()
    advice = profile.advice
    receiver = Receiver(
        state,
        profile.callback_port,
        name=profile.display_name,
        login=advice.login_command,
        choose_port=advice.choose_callback_port,
    )
    await receiver.start()
    try:
        client = await client_for(receiver.redirect_uri)
    except BaseException:
        await receiver.aclose()
        raise
    return Flow(http, target, client, receiver, state, scopes, profile)
