"""Direct pins on checks a one-line edit could loosen unnoticed: the issuer is compared whole
(RFC 9207 ``iss``, RFC 8414 metadata, stored registrations), and the receiver's state gate
refuses a callback without ``state``."""

from __future__ import annotations

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
