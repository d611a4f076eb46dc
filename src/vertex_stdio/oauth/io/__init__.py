"""OAuth's I/O: the HTTP client, the loopback redirect receiver, the browser opener. May import oauth.protocol and core."""
