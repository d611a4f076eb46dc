"""Direct pins on checks a one-line edit could loosen unnoticed: the issuer is compared whole
(RFC 9207 ``iss``, RFC 8414 metadata, stored registrations), and the receiver's state gate
refuses a callback without ``state`` or from another local account."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from vertex_stdio.oauth.discovery import stored_client
from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.protocol.core import check_iss
from vertex_stdio.oauth.protocol.metadata import MetadataInvalid, parse_server_metadata

ISSUER = "https://as.example"
LOOKALIKES = [
    "https://as.example.evil.test",  # shares the whole expected issuer as a prefix
    "https://as.example/",  # a trailing slash is another identifier (RFC 8414 §3.3: exact)
    "https://as.example/tenant",
    "https://as.exampl",  # a prefix of the expected one
    "https://AS.example",
    "",
]


@pytest.mark.parametrize("got", LOOKALIKES)
@pytest.mark.parametrize("required", [True, False])
def test_callback_iss_sharing_a_prefix_is_refused(got: str, required: bool) -> None:
    """RFC 9207: an ``iss`` that merely shares a prefix with the expected issuer is a mismatch,
    whether or not the server advertised the parameter."""
    assert check_iss(ISSUER, got, required=required) is not None
    assert check_iss(ISSUER, ISSUER, required=required) is None


@pytest.mark.parametrize("issuer", LOOKALIKES)
def test_metadata_issuer_sharing_a_prefix_is_refused(issuer: str) -> None:
    """Authorization-server metadata must name exactly the issuer it was fetched for."""
    body = {
        "issuer": issuer,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "code_challenge_methods_supported": ["S256"],
    }
    with pytest.raises(MetadataInvalid, match="issuer"):
        parse_server_metadata(body, ISSUER)
    assert parse_server_metadata({**body, "issuer": ISSUER}, ISSUER).issuer == ISSUER


@pytest.mark.parametrize("issuer", LOOKALIKES)
def test_a_registration_from_a_lookalike_issuer_is_not_reused(issuer: str) -> None:
    """A client registration kept for another issuer is never used for this one."""
    assert stored_client({"issuer": issuer, "client_id": "c"}, ISSUER) is None
    assert stored_client({"issuer": ISSUER, "client_id": "c"}, ISSUER) is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "query",
    [{"code": "C"}, {"state": "", "code": "C"}, {"state": "the-stat", "code": "C"}, {"state": "the-state-x"}],
)
async def test_the_receiver_refuses_a_callback_without_the_state(query: dict[str, str]) -> None:
    """No ``state``, an empty one, a prefix or an extension of it: refused at once, the wait goes on;
    the right one is then taken."""
    receiver = Receiver("the-state")
    await receiver.start()
    try:
        assert receiver.deliver(query) is False
        waiting = receiver.wait()
        assert receiver.deliver({"state": "the-state", "code": "C"}) is True
        assert (await waiting)["code"] == "C"
    finally:
        await receiver.aclose()


async def _get(port: int, target: str, cookie: str = "") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.anyio
async def test_another_account_is_refused_whoever_runs_the_tests() -> None:
    """The twin, for any user, of test_oauth_binding's run as ``nobody`` (which needs root): a
    connection the system says is another local account's gets 403 on the start URL and on the
    callback, and neither uses up the sign-in; the person's own browser then signs in."""
    verdicts = iter([True, False, True, False])  # other, person (start); other, person (callback)

    def another_account(peer: object, ours: object) -> bool:
        return next(verdicts)

    receiver = Receiver("the-state", another_account=another_account)
    receiver.arm("https://as.example/authorize")
    await receiver.start()
    port = urlsplit(receiver.redirect_uri).port
    assert port is not None
    start = urlsplit(receiver.start_url).path
    try:
        assert (await _get(port, start)).startswith(b"HTTP/1.1 403")
        redirect = await _get(port, start)  # the person's browser: the start URL was not used up
        assert redirect.startswith(b"HTTP/1.1 302")
        cookie = redirect.split(b"Set-Cookie: ", 1)[1].split(b";", 1)[0].decode()
        assert (await _get(port, "/callback?state=the-state&code=EVIL", cookie)).startswith(b"HTTP/1.1 403")
        waiting = asyncio.ensure_future(receiver.wait())
        page = asyncio.ensure_future(_get(port, "/callback?state=the-state&code=C", cookie))
        assert (await waiting)["code"] == "C"
        receiver.finish("success")
        assert (await page).startswith(b"HTTP/1.1 200")
        assert next(verdicts, None) is None  # each request holding a secret was checked once
    finally:
        await receiver.aclose()
