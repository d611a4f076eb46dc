"""The request head both loopback servers read (the sign-in receiver, the approval pages)."""

from __future__ import annotations

from vertex_stdio.oauth.io.request_head import parse_head


def test_the_request_line_and_headers_are_read_as_browsers_send_them() -> None:
    """Header names in any case, values stripped; the path and query of the target apart."""
    head = parse_head(b"GET /callback?code=C&state=S HTTP/1.1\r\nHOST:  127.0.0.1:5555 \r\nX-A: b:c\r\n\r\n")
    assert head is not None
    assert (head.method, head.target) == ("GET", "/callback?code=C&state=S")
    assert (head.path, head.query) == ("/callback", "code=C&state=S")
    assert head.headers == {"host": "127.0.0.1:5555", "x-a": "b:c"}
    assert head.for_port(5555)
    assert not head.for_port(5556)


def test_only_this_exact_host_is_served() -> None:
    """A rebound DNS name, ``localhost`` or no Host at all is not 127.0.0.1:<port>."""
    for host in (b"Host: evil.example:5555\r\n", b"Host: localhost:5555\r\n", b""):
        head = parse_head(b"GET / HTTP/1.1\r\n" + host + b"\r\n")
        assert head is not None
        assert not head.for_port(5555)


def test_a_request_line_without_three_parts_is_no_request() -> None:
    for line in (b"GET /", b"GET / HTTP/1.1 extra", b"", b"\x00"):
        assert parse_head(line + b"\r\n\r\n") is None


def test_the_cookie_is_found_by_its_exact_name_among_others() -> None:
    head = parse_head(
        b"GET / HTTP/1.1\r\nCookie: xsignin_binding=no; a=1;  signin_binding=yes=more ; b\r\n\r\n"
    )
    assert head is not None
    assert head.cookie("signin_binding") == "yes=more"
    assert head.cookie("approval_binding") is None
    assert head.cookie("b") == ""
    bare = parse_head(b"GET / HTTP/1.1\r\n\r\n")
    assert bare is not None
    assert bare.cookie("signin_binding") is None
