"""Where sign-ins are kept: the token store, its secret backends and state files. May import oauth.protocol and core."""
