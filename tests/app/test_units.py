"""The pure core: settings, error mapping, Retry-After, SMS parts, challenges, log scrubbing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vertex_stdio.core.credentials import parse_challenge
from vertex_stdio.core.errors import AuthRequired, ConfigError, ErrorCode, UpstreamError, error_from_envelope
from vertex_stdio.core.logs import REDACTED, register_secret, scrub
from vertex_stdio.vertexsms.api.outcomes import (
    SCRUBBED,
    Operation,
    error_for_status,
    retry_after_seconds,
    upstream_message,
    without_sent,
)
from vertex_stdio.vertexsms.links import with_links
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.smsparts import count_parts, encoding_of

SEND = Operation("send_sms", "sms:send", costs_or_changes=True, is_send=True)
READ = Operation("get_operator", "numbers:read", costs_or_changes=False)


def test_settings_defaults_and_overrides() -> None:
    """Defaults come from the contract; command-line overrides win over the environment."""
    s = Settings.from_env({})
    assert (s.api_url, s.mcp_url, s.callback_port) == (
        "https://api.vertexsms.com",
        "https://mcp.vertexsms.com/mcp",
        0,
    )
    s = Settings.from_env(
        {"VERTEXSMS_TEST_MODE": "2", "VERTEXSMS_SCOPES": "sms:send sms:rates"}, test_mode="1"
    )
    assert s.test_mode == "1"
    assert s.scopes == ("sms:send", "sms:rates")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"VERTEXSMS_API_URL": "http://api.example.com"}, "plain http://"),
        ({"VERTEXSMS_TEST_MODE": "3"}, "VERTEXSMS_TEST_MODE"),
        ({"VERTEXSMS_CALLBACK_PORT": "70000"}, "0..65535"),
        ({"VERTEXSMS_LOG_LEVEL": "LOUD"}, "VERTEXSMS_LOG_LEVEL"),
        ({"VERTEXSMS_SANDBOX": "maybe"}, "VERTEXSMS_SANDBOX"),
        # the range said is the range kept: 0 is refused, so the message does not offer it
        ({"VERTEXSMS_HTTP_TIMEOUT": "0"}, r"more than 0 and at most 3600 seconds, got '0'"),
        ({"VERTEXSMS_HTTP_TIMEOUT": "3601"}, r"more than 0 and at most 3600 seconds"),
        ({"VERTEXSMS_SIGNIN_TIMEOUT": "-1"}, r"VERTEXSMS_SIGNIN_TIMEOUT must be more than 0"),
    ],
)
def test_settings_refuse_bad_values(env: dict[str, str], fragment: str) -> None:
    """A malformed setting is refused with a message naming it."""
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(env)


def test_settings_accept_loopback_http_and_ignore_placeholders() -> None:
    """http:// is fine on loopback; unexpanded ${user_config.x} values count as unset."""
    s = Settings.from_env(
        {
            "VERTEXSMS_API_URL": "http://127.0.0.1:8080/",
            "VERTEXSMS_MCP_URL": "http://[::1]:9/mcp",
            "VERTEXSMS_API_TOKEN": "${user_config.api_token}",
            "VERTEXSMS_TEST_MODE": "",
        }
    )
    assert s.api_url == "http://127.0.0.1:8080"
    assert s.api_token is None
    assert s.test_mode is None
    assert "api_token" not in repr(Settings(api_token="secret-value-123"))


@pytest.mark.parametrize(
    ("op", "status", "headers", "code", "retryable"),
    [
        (READ, 400, {}, ErrorCode.INVALID_INPUT, False),
        (SEND, 400, {}, ErrorCode.VERTEX_SEND_FAILED, False),
        (READ, 401, {}, ErrorCode.AUTH_INVALID, False),
        (READ, 403, {}, ErrorCode.AUTH_INVALID, False),
        (
            READ,
            403,
            {"www-authenticate": 'Bearer error="insufficient_scope", scope="numbers:read"'},
            ErrorCode.INSUFFICIENT_SCOPE,
            False,
        ),
        (READ, 404, {}, ErrorCode.NOT_FOUND, False),
        (READ, 409, {}, ErrorCode.UPSTREAM_ERROR, False),
        (READ, 418, {}, ErrorCode.UPSTREAM_ERROR, False),
        (READ, 429, {"retry-after": "7"}, ErrorCode.RATE_LIMITED, True),
        (READ, 500, {}, ErrorCode.UPSTREAM_UNAVAILABLE, True),
        (SEND, 503, {}, ErrorCode.UPSTREAM_UNAVAILABLE, False),  # it may have gone: never retryable
    ],
)
def test_error_mapping_rows(
    op: Operation, status: int, headers: dict[str, str], code: ErrorCode, retryable: bool
) -> None:
    """Each HTTP outcome maps to the contract's code, keeping VertexSMS's message."""
    body = json.dumps({"message": "Reason from VertexSMS"}).encode()
    error = error_for_status(op, status, {"content-type": "application/json", **headers}, body)
    envelope = error.envelope()["error"]
    assert envelope["code"] == code
    assert envelope["retryable"] is retryable
    assert "Reason from VertexSMS" in envelope["message"]
    assert envelope["vertex_error_code"] is None
    if status == 429:
        assert envelope["retry_after_seconds"] == 7
    if op is SEND and status >= 500:
        assert "may or may not have happened" in envelope["message"]
        assert envelope["outcome"] == "unknown"
    if code in (ErrorCode.AUTH_INVALID, ErrorCode.INSUFFICIENT_SCOPE):
        assert {"signup_url", "signin_url", "token_url"} <= with_links(error).envelope()["error"].keys()


def test_auth_required_envelope_has_links_and_hint() -> None:
    """VertexSMS's AUTH_REQUIRED carries the three links and how to sign in; the core's names none."""
    assert AuthRequired("Sign in first.").envelope() == {
        "error": {
            "code": "AUTH_REQUIRED",
            "message": "Sign in first.",
            "retryable": False,
            "vertex_error_code": None,
        }
    }
    env = with_links(AuthRequired("Sign in first.")).envelope()["error"]
    assert env["signup_url"] == "https://vertexsms.com/en/contact"
    assert env["signin_url"] == "https://vertexsms.com/en/login"
    assert env["token_url"] == "https://tool.vertexsms.com/settings/api"
    assert "vertex-stdio login" in env["how_to_sign_in"]
    assert error_from_envelope(AuthRequired("x").envelope()).__class__ is AuthRequired


def test_upstream_message_shapes() -> None:
    """message, error and plain text bodies are read; HTML pages and JSON without text are not."""
    assert upstream_message(b'{"message": "bad from"}', "application/json") == "bad from"
    assert upstream_message(b'{"error": {"message": "nested"}}', "application/json") == "nested"
    assert upstream_message(b"plain words", "text/plain") == "plain words"
    assert upstream_message(b"<html><body>502</body></html>", "text/html") is None
    assert upstream_message(b"[1, 2]", "application/json") is None
    assert len(upstream_message(b"x" * 5000, "text/plain") or "") <= 300


def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is read as delta-seconds or as an HTTP date."""
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("5") == 5
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Mon, 23 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("text", "parts", "encoding"),
    [
        ("Hello", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),
        ("€" * 81, 2, "GSM-7"),
        ("ą" * 70, 1, "UCS-2"),
        ("ą" * 71, 2, "UCS-2"),
        ("😀" * 35, 1, "UCS-2"),
        ("😀" * 36, 2, "UCS-2"),
    ],
)
def test_sms_parts(text: str, parts: int, encoding: str) -> None:
    """GSM-7 and UCS-2 part counting follows 160/153 and 70/67."""
    assert encoding_of(text) == encoding
    assert count_parts(text) == parts


def test_parse_challenge() -> None:
    """WWW-Authenticate parameters are read, quoted or not; garbage gives an empty challenge."""
    c = parse_challenge('Bearer error="insufficient_scope", scope="a b", resource_metadata="https://x/y"')
    assert (c.error, c.scopes, c.resource_metadata) == ("insufficient_scope", ("a", "b"), "https://x/y")
    assert parse_challenge("Bearer error=invalid_token").error == "invalid_token"
    assert parse_challenge("garbage").error is None


def test_scrub_registered_and_shaped_secrets() -> None:
    """Registered secrets and token-shaped values never survive into a log line."""
    register_secret("pasted-token-0123456789")
    line = scrub(
        "token pasted-token-0123456789 Authorization: Bearer abc.def.ghi "
        "X-VertexSMS-Token: zzz123 code=authcode123&state=s refresh_token=rt1 format=json"
    )
    for secret in ("pasted-token-0123456789", "abc.def.ghi", "zzz123", "authcode123", "rt1"):
        assert secret not in line
    assert REDACTED in line
    assert "format=json" in line


def test_tokens_are_cut_from_an_error_in_one_pass() -> None:
    """Every sent token is cut out once, longest first; the marker put in is never cut again."""
    error = UpstreamError("key abcdefgh, then abcd", hint="abcdefgh")
    without_sent(error, ["abcd", "abcdefgh", "e", None, "abcd"])  # "e" is in the marker too
    r = SCRUBBED
    assert error.message == f"k{r}y {r}, th{r}n {r}"
    assert error.extra["hint"] == r
    assert error.args == (error.message,)
