"""The one redaction: a token, whole or in pieces, never survives into text a person or model gets."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from jwt_tokens import leaked, make_jwt

from vertex_stdio.core import redact as redaction
from vertex_stdio.core.logs import SecretFilter, scrub
from vertex_stdio.core.redact import PIECE, REDACTED, clip, redact, register_secret
from vertex_stdio.oauth.protocol.core import scrub as oauth_scrub
from vertex_stdio.vertexsms.api.outcomes import MAX_MESSAGE_CHARS, upstream_message


def test_a_jwt_is_about_a_kilobyte() -> None:
    """Guard for the cases below: the token is a 1 kB JWT with three parts."""
    token = make_jwt()
    assert 990 <= len(token) <= 1060
    assert token.startswith("eyJ")
    assert token.count(".") == 2


@pytest.mark.parametrize("known", [True, False], ids=["sent", "never-registered"])
def test_a_jwt_echoed_whole_leaves_no_piece(known: bool) -> None:
    """A whole JWT quoted by an upstream is cut, whether or not we know it was ours."""
    token = make_jwt()
    said = upstream_message(
        json.dumps({"message": f"X-VertexSMS-Token {token} is not allowed"}).encode(),
        "application/json",
        [token] if known else (),
    )
    assert said is not None
    assert leaked(said, token) == []
    assert said == f"X-VertexSMS-Token {REDACTED} is not allowed"


@pytest.mark.parametrize("known", [True, False], ids=["sent", "never-registered"])
def test_a_jwt_clipped_at_every_position_around_the_limit_leaves_no_piece(known: bool) -> None:
    """Our clip cuts at every position of the token (it starts before, at and after the limit),
    and the upstream's own truncation cuts it anywhere too: no 8-character piece survives."""
    token = make_jwt()
    for start in range(MAX_MESSAGE_CHARS - 40, MAX_MESSAGE_CHARS + 5):
        text = "x" * (start - 6) + " token " + token + " was refused"
        got = upstream_message(
            json.dumps({"message": text}).encode(), "application/json", [token] if known else ()
        )
        assert got is not None
        assert len(got) <= MAX_MESSAGE_CHARS
        assert leaked(got, token) == [], start
    for cut in range(PIECE, len(token), 7):  # the upstream quoted only a prefix of the token
        text = f"bearer token rejected: {token[:cut]}"
        got = upstream_message(text.encode(), "text/plain", [token] if known else ())
        assert got is not None
        assert leaked(got, token) == [], cut


def test_a_jwt_split_across_json_fields_leaves_no_piece() -> None:
    """A token split over several fields (or over hosted content blocks joined again) is cut in
    every field: each part is a piece of the token we sent."""
    token = make_jwt()
    parts = [token[:333], token[333:700], token[700:]]
    body = json.dumps({"message": parts[1], "error": parts[0], "detail": parts[2]}).encode()
    got = upstream_message(body, "application/json", [token])
    assert got == REDACTED
    fields = json.dumps({"error": {"code": "X", "message": parts[0], "data": {"a": parts[1], "b": parts[2]}}})
    assert leaked(redact(fields, [token]), token) == []
    assert leaked(oauth_scrub(fields, [token], limit=200), token) == []


def test_a_registered_secret_is_cut_in_pieces_everywhere() -> None:
    """Once registered, any 8-character piece of a secret is cut from logs and quoted text alike."""
    token = "opaque-" + secrets.token_hex(20)
    register_secret(token)
    for text in (token, token[:20], token[11:30], f"a{token[-9:]}b"):
        assert leaked(redact(text), token) == [], text
        assert leaked(scrub(text), token) == [], text
        assert leaked(clip("quoted: " + text, 16), token) == [], text
    assert redact(token[: PIECE - 1]) == token[: PIECE - 1]  # shorter than a piece: ordinary text


def test_a_long_run_next_to_a_token_word_is_cut() -> None:
    """A base64url run of 32+ characters next to token/bearer/authorization is cut even unknown."""
    run = secrets.token_urlsafe(30)[:36].replace("-", "a").replace("_", "b")
    for text in (f"Authorization: {run}", f"your token is {run}", f"{run} (bearer) rejected"):
        assert run not in redact(text), text
        assert REDACTED in redact(text)
    assert redact(f"message id {run} delivered") == f"message id {run} delivered"
    status = f"  Client id: {run}\n  Scopes: sms:send\n  Access token: expires in 5 min"
    assert redact(status) == status  # the word is on another line: not next to it
    assert redact("the token was refused") == "the token was refused"


def test_ordinary_text_is_left_alone() -> None:
    """Words, numbers, URLs and the error envelope's fields are not token shapes."""
    for text in (
        'VertexSMS said: {"code": "AUTH_INVALID", "message": "Sign in again"}',
        "https://tool.vertexsms.com/settings/api and +37069912345 at 12:00",
        "vertex_stdio.vertexsms.settings failed",
    ):
        assert redact(text) == text


def test_a_registered_word_like_token_does_not_cut_words() -> None:
    """The sandbox's public token is registered like any pasted one: it is cut whole, but its
    windows of plain words and digits do not cut ``vertex-stdio`` or message ids from a log."""
    register_secret("vertex-sandbox-token")
    line = "vertex-stdio 0.1.0 serving; message id sandbox-8448000001 sent with vertex-sandbox-token"
    assert redact(line) == line.replace("vertex-sandbox-token", REDACTED)


def test_the_marker_is_never_cut_again() -> None:
    """A sent secret that is part of the marker does not mangle the marker put in for another."""
    got = redact("key abcdefgh, then abcd", ["abcd", "abcdefgh", "e", None, "abcd"])
    assert got == f"k{REDACTED}y {REDACTED}, th{REDACTED}n {REDACTED}"


def test_the_registry_is_bounded() -> None:
    """Rotating tokens are forgotten oldest first beyond MAX_SECRETS (memory stays bounded)."""
    first = "first-" + secrets.token_hex(12)
    register_secret(first)
    for _ in range(redaction.MAX_SECRETS):
        register_secret("later-" + secrets.token_hex(12))
    assert redact(first) == first
    last = "last-" + secrets.token_hex(12)
    register_secret(last)
    assert redact(last) == REDACTED


def test_a_log_record_with_a_jwt_is_cut() -> None:
    """The log filter cuts an unregistered JWT from the message and from a traceback."""
    token = make_jwt()
    record = logging.LogRecord(
        "vertex_stdio.x", logging.WARNING, __file__, 1, "upstream said %s", (token[:500],), None
    )
    assert SecretFilter().filter(record)
    assert leaked(record.getMessage(), token) == []
