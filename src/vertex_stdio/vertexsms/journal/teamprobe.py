"""A read-only look at a team's PostgreSQL journal for ``doctor``: can this machine connect (with
the password it would use), which schema version the database holds, and how far this machine's
clock is from the server's.  Unlike opening the store, it creates and migrates nothing.  Imports
``psycopg``: load it only for a postgresql:// URL (``TeamExtraMissing`` without the extra)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vertex_stdio.core.redact import redact, register_secret
from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.journal.store import JournalStoreError, Rejected
from vertex_stdio.vertexsms.journal.where import (
    TeamExtraMissing,
    install_command,
    keyring_password,
    refusal_advice,
)

CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Probe:
    """``where`` (the URL without its password), the database's ``schema_version`` (0: no journal
    yet), and ``skew``: the server's clock minus this machine's, in seconds, within ``uncertainty``
    (half the round trip of the query that read it)."""

    where: str
    schema_version: int
    skew: float
    uncertainty: float


def probe(url: str, env: Mapping[str, str], clock: Callable[[], float] = time.time) -> Probe:
    """Connect to ``url`` as the journal would and read its version and the server's clock.

    Raises ``TeamExtraMissing`` (naming the install command), ``Rejected`` (the server refused
    the password, the role or TLS; its ``advice`` says what to fix) or ``JournalStoreError`` (not
    reached), each saying why with no password in it."""
    where = redacted_url(url)
    try:
        import psycopg
    except ImportError:
        raise TeamExtraMissing(
            f"the team journal {where} needs PostgreSQL support, which this installation lacks; "
            f"install it with: {install_command()}"
        ) from None
    from psycopg.conninfo import conninfo_to_dict

    from vertex_stdio.vertexsms.journal import pgschema

    password = keyring_password(url, env)
    try:  # the password written in the URL itself, to cut from libpq's words
        written = conninfo_to_dict(url).get("password")
    except psycopg.Error:  # a URL libpq cannot parse: it will say so, quoting no password
        written = None
    secrets = [password, None if written is None else str(written)]
    for secret in secrets:
        register_secret(secret)
    extra: dict[str, Any] = {"autocommit": True, "application_name": "vertex-stdio doctor"}
    if "connect_timeout" not in url:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if password is not None:
        extra["password"] = password
    try:
        with psycopg.connect(url, **extra) as conn:
            version = pgschema.version(conn)
            before = clock()
            row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            after = clock()
    except psycopg.Error as exc:
        said = redact(" ".join(str(exc).split()), also=secrets)
        for secret in secrets:
            said = said.replace(secret, "[redacted]") if secret else said
        advice = refusal_advice(url, said) if isinstance(exc, psycopg.OperationalError) else None
        if advice is not None:
            raise Rejected(f"the team journal {where} refused this machine ({said})", advice) from None
        raise JournalStoreError(f"the team journal {where} could not be reached ({said})") from None
    server_now = float(row[0]) if row else (before + after) / 2
    return Probe(where, version, server_now - (before + after) / 2, (after - before) / 2)
