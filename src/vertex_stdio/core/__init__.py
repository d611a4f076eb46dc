"""The neutral core: errors, the HTTP edge, private files, logs and redaction. Names no product and imports nothing of ours."""
