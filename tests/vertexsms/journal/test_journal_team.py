"""The team journal against a real PostgreSQL server, through the real ``vertex-stdio``.

Two "laptops" are two HOMEs (own state, config and logs) naming one database; the sandbox
emulator is VertexSMS and counts what reached it.  Every test here is slow: the server and the
programs are child processes.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client, StdioServerParameters
from postgres import Postgres

from bridge import emulator_env, no_recipient_caps
from vertex_stdio.vertexsms.journal import pgschema
from vertex_stdio.vertexsms.journal.pgstore import PgStore
from vertex_stdio.vertexsms.journal.records import NewCall
from vertex_stdio.vertexsms.journal.store import JournalStoreError
from vertex_stdio.vertexsms.sandbox import Emulator, Fault

pytestmark = pytest.mark.slow

SEND = {"to": "+37060000001", "from": "ACME", "message": "Team standup moved to 10:00"}


def laptop(home: Path, emulator: Emulator, journal: dict[str, str], **extra: str) -> dict[str, str]:
    """One machine's environment: its own HOME, the shared journal, VertexSMS = the emulator."""
    home.mkdir(parents=True, exist_ok=True)
    return emulator_env(
        home,
        emulator,
        VERTEXSMS_HTTP_TIMEOUT="5",
        **journal,
        **extra,
    )


def vertex(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args], env=env, capture_output=True, text=True, timeout=90
    )


def send(env: dict[str, str], **changes: str) -> subprocess.CompletedProcess[str]:
    return vertex(env, "call", "send_sms", "--json", json.dumps({**SEND, **changes}))


def error_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 1, done.stdout + done.stderr
    body: dict[str, Any] = json.loads(done.stdout)["error"]
    return body


def posts(emulator: Emulator) -> int:
    return len(emulator.journal_for("POST", "/sms"))


@pytest.fixture
def journal(postgres: Postgres) -> dict[str, str]:
    """A fresh team database on the session's server (the variable and PGPASSWORD)."""
    return {"VERTEXSMS_JOURNAL_URL": postgres.fresh_database("team"), "PGPASSWORD": postgres.password}


@pytest.fixture
def shared_store(journal: dict[str, str]) -> Iterator[PgStore]:
    store = PgStore(journal["VERTEXSMS_JOURNAL_URL"], password=journal["PGPASSWORD"])
    try:
        yield store
    finally:
        store.close()


def test_two_laptops_racing_the_same_send_send_it_once(
    emulator: Emulator, journal: dict[str, str], tmp_path: Path
) -> None:
    """Two `call`s on each of two machines, the same send at once: VertexSMS gets one POST, the
    other three are DUPLICATE_SEND, and neither machine made a journal file of its own."""
    emulator.inject(Fault(method="POST", path="/sms", delay=0.5, times=None))
    homes = [tmp_path / "laptop-a", tmp_path / "laptop-b"]
    envs = [laptop(home, emulator, journal) for home in homes]
    cmd = [sys.executable, "-m", "vertex_stdio", "call", "send_sms", "--json", json.dumps(SEND)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for env in envs * 2
    ]
    outs = [p.communicate(timeout=90) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1, 1, 1], outs
    refused = [
        json.loads(out)["error"]["code"] for (out, _), p in zip(outs, procs, strict=True) if p.returncode
    ]
    assert refused == ["DUPLICATE_SEND"] * 3
    assert posts(emulator) == 1
    for home in homes:
        assert not list(home.rglob("journal.sqlite3")), "the journal must be the team's, not a local file"


def test_the_daily_limit_is_shared_between_laptops(
    emulator: Emulator, journal: dict[str, str], tmp_path: Path, shared_store: PgStore
) -> None:
    """A limit of 3 a day: two sends from one machine and one from the other go; the fourth,
    from either, is SPEND_LIMIT counting all three, and is not sent.  The second machine names
    the database in its policy file (``journal_url``) instead of the variable."""
    limit = {"VERTEXSMS_MAX_MESSAGES_PER_DAY": "3"}
    a = laptop(tmp_path / "laptop-a", emulator, journal, **limit, **no_recipient_caps(tmp_path))
    policy = tmp_path / "policy-with-journal.toml"
    policy.write_text(
        f'journal_url = "{journal["VERTEXSMS_JOURNAL_URL"]}"\n'
        "max_per_recipient_per_day = 0\nmax_per_recipient_per_hour = 0\n",
        encoding="utf-8",
    )
    b = laptop(
        tmp_path / "laptop-b",
        emulator,
        {"PGPASSWORD": journal["PGPASSWORD"]},
        VERTEXSMS_POLICY=str(policy),
        **limit,
    )
    for env, text in ((a, "one"), (a, "two"), (b, "three")):
        done = send(env, message=text)
        assert done.returncode == 0, done.stdout + done.stderr
    error = error_of(send(b, message="four"))
    assert (error["code"], error["setting"], error["count"], error["outcome"]) == (
        "SPEND_LIMIT",
        "VERTEXSMS_MAX_MESSAGES_PER_DAY",
        3,
        "not_sent",
    )
    assert error_of(send(a, message="five"))["code"] == "SPEND_LIMIT"
    assert posts(emulator) == 3
    assert [r.outcome for r in shared_store.records(0)].count("sent") == 3
    assert shared_store.verify() == (None, 3)  # a limit's refusal is not recorded


def _migrate_and_begin(url: str, password: str, start: Any, results: Any, n: int) -> None:
    start.wait(30)
    try:
        store = PgStore(url, password=password)
        try:
            store.begin(
                NewCall(tool="send_sms", kind="real", started=1_800_000_000.0 + n, digest=str(n)), None
            )
        finally:
            store.close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the parent shows any failure as it was
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_migrating_an_empty_database_at_once(postgres: Postgres) -> None:
    """Four processes open an empty database at the same moment: each one's open creates or
    finds the schema (exactly one version row), and each one's record is there, chained."""
    url = postgres.fresh_database("migrate")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_migrate_and_begin, args=(url, postgres.password, start, results, n))
        for n in range(4)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == ["ok"] * 4
    store = PgStore(url, password=postgres.password)
    try:
        assert store.facts().schema_version == pgschema.SCHEMA_VERSION
        assert store.verify() == (None, 4)
    finally:
        store.close()
    with psycopg.connect(url, password=postgres.password) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(pgschema.SCHEMA_VERSION,)]


@pytest.mark.anyio
async def test_the_database_stopped_mid_run_refuses_then_recovers(
    emulator: Emulator, postgres_private: Postgres, tmp_path: Path
) -> None:
    """A running server, its database stopped: send_sms is UPSTREAM_ERROR, not_sent, naming the
    database and what to check, and nothing reaches VertexSMS; a free tool still answers; the
    database back, the same server sends again.  The password rode in the URL (no PGPASSWORD):
    it shows in no output, log or error."""
    pg = postgres_private
    secret = pg.password
    env = laptop(tmp_path / "laptop", emulator, {"VERTEXSMS_JOURNAL_URL": pg.url_with_password()})
    errlog = tmp_path / "server-stderr.txt"
    command = f'exec "{sys.executable}" -m vertex_stdio 2>>"{errlog}"'
    params = StdioServerParameters(command="sh", args=["-c", command], env=env)
    async with Client(params, mode="legacy") as client:
        first = await client.call_tool("send_sms", SEND)
        assert not first.is_error, first
        pg.stop()
        try:
            down = await client.call_tool("send_sms", {**SEND, "message": "while the database is down"})
            free = await client.call_tool("get_sms_rates", {"country": "LT"})
        finally:
            pg.start()
        back = await client.call_tool("send_sms", {**SEND, "message": "the database is back"})
    seen = [str(r.content) for r in (first, down, free, back)]
    assert down.is_error
    error = json.loads(down.content[0].text)["error"]  # type: ignore[union-attr]
    assert (error["code"], error["outcome"], error["retryable"]) == ("UPSTREAM_ERROR", "not_sent", True)
    assert f"postgresql://vertex@127.0.0.1:{pg.port}/journal" in error["message"]
    assert "team database is up and reachable" in error["message"]
    assert not free.is_error, free
    assert not back.is_error, back
    assert posts(emulator) == 2
    outputs = [*seen, errlog.read_text()]
    logs = list((tmp_path / "laptop").rglob("*.log"))
    assert logs, "the server's log file is among what is searched"
    outputs += [p.read_text(errors="replace") for p in logs]
    for args in (("policy",), ("policy", "--json"), ("history", "--json"), ("doctor",), ("status",)):
        done = vertex(env, *args)
        outputs += [done.stdout, done.stderr]
    assert "could not be" in "".join(outputs)  # the failure itself was among what is searched
    for text in outputs:
        assert secret not in text
        assert secret[:8] not in text
        assert secret[-8:] not in text


def test_the_password_comes_from_the_keyring_when_libpq_has_none(
    emulator: Emulator, postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password in the URL, no PGPASSWORD, no ~/.pgpass: the keyring's entry (service
    ``vertex-stdio journal``, user the URL) is used; without that entry the send is refused,
    not_sent, not retryable, and nothing reaches VertexSMS; the keyring command the refusal prints
    works as printed."""
    from oauth_server.filekeyring import FileKeyring

    url = postgres.fresh_database("keyring")
    keyfile = tmp_path / "keyring.json"
    env = laptop(
        tmp_path / "laptop",
        emulator,
        {"VERTEXSMS_JOURNAL_URL": url},
        PYTHON_KEYRING_BACKEND="oauth_server.filekeyring.FileKeyring",
        TEST_KEYRING_FILE=str(keyfile),
        PYTHONPATH=str(Path(__file__).parents[2] / "support"),
    )
    refused = error_of(send(env, message="no password anywhere"))
    assert (refused["code"], refused["outcome"]) == ("UPSTREAM_ERROR", "not_sent")
    assert refused["retryable"] is False  # nothing changes by trying again until a password is given
    assert "no password supplied" in refused["message"]
    assert posts(emulator) == 0
    # The keyring command the message prints, run as printed (the password piped in).
    printed = re.search(r"put it there with: (.+?)\. Free tools keep working", refused["message"])
    assert printed is not None, refused["message"]
    assert printed.group(1).endswith(f"-m keyring set 'vertex-stdio journal' {url}")
    kept = subprocess.run(
        shlex.split(printed.group(1)),
        env=env,
        input=postgres.password,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert kept.returncode == 0, kept.stderr
    monkeypatch.setenv("TEST_KEYRING_FILE", str(keyfile))
    assert FileKeyring().get_password("vertex-stdio journal", url) == postgres.password
    done = send(env, message="password from the keyring")
    assert done.returncode == 0, done.stdout + done.stderr
    assert posts(emulator) == 1
    assert postgres.password not in done.stdout + done.stderr


def test_a_wrong_password_is_not_retryable_and_says_where_the_password_goes(
    emulator: Emulator, journal: dict[str, str], tmp_path: Path
) -> None:
    """A wrong password (in PGPASSWORD, or in the URL itself) is refused by the server: the send
    answers not_sent with retryable false (trying again changes nothing until a person fixes
    it) and where the password is read from; the wrong password shows nowhere."""
    wrong = "wrong-" + journal["PGPASSWORD"]
    url = journal["VERTEXSMS_JOURNAL_URL"]
    in_url = url.replace("vertex@", f"vertex:{wrong}@")
    for given in ({"VERTEXSMS_JOURNAL_URL": url, "PGPASSWORD": wrong}, {"VERTEXSMS_JOURNAL_URL": in_url}):
        done = send(laptop(tmp_path / "laptop", emulator, given), message="wrong password")
        error = error_of(done)
        assert (error["code"], error["outcome"], error["retryable"]) == ("UPSTREAM_ERROR", "not_sent", False)
        assert "password authentication failed" in error["message"]
        assert "PGPASSWORD in the environment" in error["message"]
        assert "up and reachable" not in error["message"]  # the server answered: it said no
        assert wrong not in done.stdout + done.stderr
        assert wrong[-8:] not in done.stdout + done.stderr
    assert posts(emulator) == 0


def test_an_edit_by_hand_in_the_database_shows_in_verify(
    journal: dict[str, str], shared_store: PgStore
) -> None:
    """The audit chain in PostgreSQL catches a record changed, and one removed, behind the store's back."""
    ids = [
        shared_store.begin(
            NewCall(tool="send_sms", kind="real", started=1_800_000_000.0 + i, digest=str(i)), None
        )
        for i in range(3)
    ]
    assert shared_store.verify() == (None, 3)
    with psycopg.connect(
        journal["VERTEXSMS_JOURNAL_URL"], password=journal["PGPASSWORD"], autocommit=True
    ) as db:
        db.execute("UPDATE calls SET recipient = '+37060000009' WHERE id = %s", (ids[1],))
        changed, _ = shared_store.verify()
        assert changed is not None
        assert (changed.record, changed.what) == (
            ids[1],
            f"record #{ids[1]} was changed (its fields no longer match its chain)",
        )
        db.execute("UPDATE calls SET recipient = NULL WHERE id = %s", (ids[1],))
        assert shared_store.verify() == (None, 3)
        db.execute("DELETE FROM calls WHERE id = %s", (ids[2],))
    removed, count = shared_store.verify()
    assert count == 2
    assert removed is not None
    assert "removed" in removed.what


def test_tls_is_as_sslmode_says(journal: dict[str, str]) -> None:
    """libpq is told TLS by the URL: ``sslmode=require`` against this server (no TLS) is refused,
    naming the database, instead of falling back to a plain connection; ``disable`` connects."""
    url = journal["VERTEXSMS_JOURNAL_URL"]
    with pytest.raises(JournalStoreError) as caught:
        PgStore(f"{url}?sslmode=require", password=journal["PGPASSWORD"])
    assert "SSL" in str(caught.value)
    assert f"the team journal {url}?sslmode=require could not be opened" in str(caught.value)
    PgStore(f"{url}?sslmode=disable", password=journal["PGPASSWORD"]).close()
