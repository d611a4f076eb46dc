"""OAuth's I/O: the HTTP client, the loopback redirect receiver (on a bounded listener, reading request heads), the browser opener. May import oauth.protocol and core."""
