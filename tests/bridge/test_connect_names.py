"""Several copies of ``connect`` starting at once each record their server's name; none dies of it."""

from __future__ import annotations

import threading
from pathlib import Path

from vertex_stdio.bridge.servers import NAMES_FILE, RemoteServer, _names, remember


def test_names_written_at_once_are_all_kept(tmp_path: Path) -> None:
    """Eight writers at once (a client starting its servers): every name is there, no writer failed.

    Unlocked, a writer swept another's temp copy away as a leftover and its replace failed with
    FileNotFoundError (seen as a connect process that died at start-up).
    """
    servers = [RemoteServer(f"https://mcp{i}.example.com/mcp", f"s{i}") for i in range(8)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(servers))

    def write(server: RemoteServer) -> None:
        start.wait()
        try:
            for _ in range(20):
                remember(server, tmp_path)
        except OSError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert _names(tmp_path) == {s.name: s.url for s in servers}
    assert [p.name for p in tmp_path.glob(f".{NAMES_FILE}*")] == []  # no temp copy left
