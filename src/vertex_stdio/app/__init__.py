"""The command line: dispatch, options, `serve` and `connect` (run on ``mcpio.runner``), `call` and the sign-in commands. May import every package; none imports it."""
