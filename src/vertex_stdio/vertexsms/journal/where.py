"""Where the journal lives: the SQLite file on this machine, or a team's PostgreSQL database.

``VERTEXSMS_JOURNAL_URL`` (or ``journal_url`` in the policy file; the variable wins) set to a
``postgresql://`` URL puts the journal, the opt-out list and the audit chain in PostgreSQL;
unset, the SQLite file in the state directory, as before.  ``psycopg`` (the ``team`` extra) is
imported only then; without it the store cannot be opened and the error names the command that
installs the extra into this installation.  Nothing here prints a URL with its password.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from vertex_stdio.core.urls import redacted_url
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError
from vertex_stdio.vertexsms.policy import Policy
from vertex_stdio.vertexsms.policy import load as load_policy

log = logging.getLogger(__name__)

URL_VARIABLE = "VERTEXSMS_JOURNAL_URL"
# libpq's words (its own, or the server's at sign-in) for a connection refused for good: the same
# answer comes back until a person changes the password, the URL or the server's settings.  Words
# in another language are not recognised: such a refusal is then answered as the server being
# unreachable (retryable), never the other way round.
_PASSWORD_REFUSED = ("password authentication failed", "no password supplied", "authentication failed")
_SETUP_REFUSED = ("pg_hba.conf", "does not exist", "permission denied", "does not support ssl", "certificate")
SCHEMES = ("postgresql", "postgres")
KEYRING_SERVICE = "vertex-stdio journal"


class TeamExtraMissing(JournalStoreError):
    """A journal URL is set but ``psycopg`` (the ``team`` extra) is not installed here."""


def journal_url(policy: Policy) -> str | None:
    """The team journal's URL (the variable, else the policy file's ``journal_url``); None: SQLite."""
    setting = policy.values.get("journal_url")
    value = setting.value if setting is not None else None
    return value.strip() or None if isinstance(value, str) else None


def is_team(policy: Policy) -> bool:
    return journal_url(policy) is not None


def describe(policy: Policy, path: Path) -> str:
    """Where the journal is, safe to print: the file's path, or the URL without its password."""
    url = journal_url(policy)
    return str(path) if url is None else redacted_url(url)


def remedy(where: str, exc: JournalStoreError | None = None) -> str:
    """What a person does about a journal that cannot be used: ``exc``'s own advice when it has
    one (a refused password), else by where it is."""
    if exc is not None and exc.advice:
        return exc.advice
    if where.startswith(tuple(f"{scheme}:" for scheme in SCHEMES)):
        return "check that the team database is up and reachable from this machine"
    return "move a damaged file aside (a new one is created) or fix its permissions"


def open_store(
    policy: Policy | None = None, *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> JournalStore:
    """The journal's store: PostgreSQL when a URL is set, else the SQLite file at ``path``
    (default: the state directory).  ``JournalStoreError`` (``TeamExtraMissing``) when it
    cannot be opened, its text naming no password."""
    if policy is None:
        policy = load_policy(os.environ if env is None else env)
    url = journal_url(policy)
    if url is None:
        from vertex_stdio.vertexsms.journal import default_path
        from vertex_stdio.vertexsms.journal.sqlite import SqliteStore

        return SqliteStore(path or default_path())
    return open_team(url, os.environ if env is None else env)


def open_team(url: str, env: Mapping[str, str]) -> JournalStore:
    """The PostgreSQL store at ``url``; the password from the URL, libpq's own places, or the keyring."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in SCHEMES:
        raise JournalStoreError(
            f"{URL_VARIABLE} (or journal_url in the policy file) must be a postgresql:// URL, got "
            f"{redacted_url(url)!r}; unset it to keep the journal in a file on this machine"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise TeamExtraMissing(
            f"the team journal {redacted_url(url)} needs PostgreSQL support, which this installation "
            f"lacks; install it with: {install_command()}"
        ) from None
    from vertex_stdio.vertexsms.journal.pgstore import PgStore

    return PgStore(url, password=keyring_password(url, env))


def install_command() -> str:
    """The command that adds the ``team`` extra to the vertex-stdio that is running."""
    prefix = Path(sys.prefix).as_posix()
    spec = "'vertex-stdio[team]'"
    if any(part.startswith("archive-v") for part in Path(sys.prefix).parts):
        return f"uvx --from {spec} vertex-stdio (start it that way in your client's settings)"
    if "/uv/tools/" in prefix + "/":
        return f"uv tool install --reinstall {spec}"
    if "/pipx/venvs/" in prefix + "/":
        return "pipx inject vertex-stdio 'psycopg[binary]'"
    if importlib.util.find_spec("pip") is None:
        return f"uv pip install --python {sys.executable} {spec}"
    return f"{sys.executable} -m pip install {spec}"


def keyring_password(url: str, env: Mapping[str, str]) -> str | None:
    """The password kept in the keyring for ``url`` (service ``vertex-stdio journal``, user: the
    URL without a password), looked up only when libpq has none of its own to use."""
    if _libpq_has_password(url, env):
        return None
    import keyring
    import keyring.errors

    try:
        found = keyring.get_password(KEYRING_SERVICE, redacted_url(url))
    except (keyring.errors.KeyringError, RuntimeError, OSError) as exc:
        # No usable keyring: libpq then says which password is missing.
        log.debug("no journal password from the keyring (%s)", type(exc).__name__)
        return None
    return found or None


def _libpq_has_password(url: str, env: Mapping[str, str]) -> bool:
    """Whether libpq is told a password (or where one is) without us: the URL, PGPASSWORD, a
    password or service file."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if ":" in parts.netloc.rpartition("@")[0] or "password=" in parts.query.lower():
        return True
    if "service=" in parts.query.lower() or any(env.get(k) for k in ("PGPASSWORD", "PGSERVICE")):
        return True
    passfile = env.get("PGPASSFILE") or str(Path.home() / ".pgpass")
    return Path(passfile).is_file()


def refusal_advice(url: str, said: str) -> str | None:
    """What to do when libpq's ``said`` is the database refusing this machine for good (a wrong or
    missing password, an unknown role or database, ``pg_hba.conf``, TLS); None: not a refusal
    (the server may simply be down or out of reach)."""
    low = said.lower()
    if any(words in low for words in _PASSWORD_REFUSED):
        return password_advice(url)
    if any(words in low for words in _SETUP_REFUSED):
        return (
            f"check the user, the database name and sslmode in {redacted_url(url)}, and that the "
            "database server lets that user in from this machine (its pg_hba.conf)"
        )
    return None


def password_advice(url: str) -> str:
    """Where this machine's password for the team database goes (libpq's places, then the keyring)."""
    return (
        "give this machine the database password, the libpq way: PGPASSWORD in the environment "
        "vertex-stdio runs in (the client's settings), a line host:port:database:user:password in "
        "~/.pgpass (mode 0600), or a service file (service=NAME in the URL); a wrong password there is "
        "corrected there. When none of these is set, the OS keyring is read; put it there with: "
        f"{keyring_command(url)}"
    )


def keyring_command(url: str) -> str:
    """The command that puts the journal's password in the keyring where ``keyring_password`` reads
    it (it asks for the password, or reads it from a pipe), with the Python that runs vertex-stdio,
    so it works whether or not a ``keyring`` command is on PATH."""
    return shlex.join([sys.executable, "-m", "keyring", "set", KEYRING_SERVICE, redacted_url(url)])
