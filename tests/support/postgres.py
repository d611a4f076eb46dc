"""A real, throwaway PostgreSQL server for tests: Debian's ``initdb`` + ``pg_ctl`` in a temp dir.

``Postgres.create()`` makes a cluster in a fresh directory under the system temp dir, listening on
a free loopback port (``127.0.0.1`` only; its unix socket stays inside that directory), with a
password-authenticated role ``vertex`` (scram-sha-256: every TCP connection must present the
password, so tests exercise ``PGPASSWORD``) and a database ``journal`` it owns.  ``initdb``
refuses to run as root and CI runs as root, so as root the cluster belongs to an unprivileged
system user (``postgres`` when the package made one, else ``nobody``).  Every wait is bounded
(``pg_ctl -w -t``); ``close`` stops the server and removes the directory.

``binaries()`` finds the newest ``/usr/lib/postgresql/<version>/bin`` (or ``pg_config``'s on
PATH); ``unavailable()`` says why a test cannot have a server (None when it can).  The pytest
fixtures live in ``tests/conftest.py``: with ``CI`` set a missing server fails the test instead
of skipping it, because ``.ci/run`` installs the package.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROLE = "vertex"
DATABASE = "journal"
ADMIN = "postgres"  # the superuser initdb makes; reachable only over the cluster's own socket
WAIT_SECONDS = 30
_UNPRIVILEGED = ("postgres", "nobody")


def binaries() -> Path | None:
    """The directory holding ``initdb``/``pg_ctl``/``postgres``: the newest Debian version's."""
    found: list[tuple[int, Path]] = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if candidate.name == "bin" and re.fullmatch(r"\d+", candidate.parent.name):
            found.append((int(candidate.parent.name), candidate))
    for _, folder in sorted(found, reverse=True):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
        folder = Path(out.stdout.strip())
        if out.returncode == 0 and (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here (None when it can)."""
    if binaries() is None:
        return "PostgreSQL server binaries not found (Debian: apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (uv sync --all-groups)"
    return None


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged user the cluster runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


class Postgres:
    """One running cluster; ``url`` has no password (it is ``password``, given as ``PGPASSWORD``)."""

    def __init__(self, root: Path, bindir: Path, port: int, password: str, durable: bool) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.password = password
        self.durable = durable
        self._owner = _owner()
        self._serial = 0

    @classmethod
    def create(cls, *, durable: bool = False) -> Postgres:
        """Make, configure and start a fresh cluster.  ``durable``: keep fsync on (benchmarks);
        tests turn it off, which changes nothing they check and spares the shared disk."""
        bindir = binaries()
        if bindir is None:
            raise RuntimeError(unavailable() or "PostgreSQL not found")
        root = Path(tempfile.mkdtemp(prefix="vertex-pg-"))
        server = cls(root, bindir, free_port(), secrets.token_urlsafe(18), durable)
        try:
            server._initdb()
            server.start()
            server._make_role()
        except BaseException:
            server.close()
            raise
        return server

    # -- URLs and environments ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``postgresql://vertex@127.0.0.1:PORT/journal``: the password is not in it."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{quote(database)}"

    def url_with_password(self, database: str = DATABASE) -> str:
        """The URL carrying the password (to test that it never shows anywhere)."""
        return f"postgresql://{ROLE}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{quote(database)}"

    def env(self, database: str = DATABASE) -> dict[str, str]:
        """What a child process needs to use ``database`` as its journal."""
        return {"VERTEXSMS_JOURNAL_URL": self.url_for(database), "PGPASSWORD": self.password}

    def fresh_database(self, prefix: str = "t") -> str:
        """A new empty database owned by ``vertex``; its URL (tests sharing the cluster stay apart)."""
        self._serial += 1
        name = f"{prefix}_{os.getpid()}_{self._serial}_{secrets.token_hex(3)}".lower()
        if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
            raise ValueError(f"database prefix must be lowercase letters, digits and _: {prefix!r}")
        self.admin(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url_for(name)

    # -- the server --------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def running(self) -> bool:
        done = self._run("pg_ctl", "status", "-D", str(self.data), check=False)
        return done.returncode == 0

    def start(self) -> None:
        """Start the server (on the same port as before) and wait until it accepts connections."""
        self._run("pg_ctl", "start", "-w", "-t", str(WAIT_SECONDS), "-D", str(self.data), "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, close connections) and wait."""
        self._run("pg_ctl", "stop", "-w", "-t", str(WAIT_SECONDS), "-m", mode, "-D", str(self.data))

    def close(self) -> None:
        """Stop the server if it runs, then remove its directory."""
        try:
            if self.data.is_dir() and self.running:
                try:
                    self.stop("fast")
                except subprocess.SubprocessError:
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` as the superuser over the cluster's own unix socket (autocommit); its rows."""
        import psycopg

        with psycopg.connect(
            host=str(self.root),
            port=self.port,
            user=ADMIN,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            cursor = conn.execute(sql.encode())
            return list(cursor.fetchall()) if cursor.description else []

    # -- set-up ------------------------------------------------------------------------------

    def _initdb(self) -> None:
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.root.chmod(0o700)
        self._run(
            "initdb", "-D", str(self.data), "-U", ADMIN, "--auth-local=trust", "--auth-host=reject",
            "-E", "UTF8", "--locale=C", "--no-instructions",
        )  # fmt: skip
        # Loopback TCP needs the password (scram); the socket (in our private dir) is the admin's way in.
        (self.data / "pg_hba.conf").write_text(
            f"local all {ADMIN} trust\n"
            f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 0.0.0.0/0 reject\n"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "password_encryption": "'scram-sha-256'",
            "shared_buffers": "'16MB'",
            "max_connections": "60",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "log_min_messages": "'warning'",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# vertex-stdio tests\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        if self._owner is not None:
            for path in (self.data / "pg_hba.conf", self.data / "postgresql.conf"):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)

    def _make_role(self) -> None:
        secret = self.password.replace("'", "''")
        self.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{secret}'")
        self.admin(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of the cluster's programs as its owner; a failure names the program and its output."""
        as_owner: dict[str, Any] = {}
        if self._owner is not None:
            as_owner = {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.root)}
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS + 15,
            **as_owner,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args[:1])} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                f"\n--- server log ---\n{self.log_tail()}"
            )
        return done
