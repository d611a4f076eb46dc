"""The command line: dispatch, options, the serve runner, `call` and the sign-in commands. May import every package; none imports it."""
