"""A serve session that never sends never imports the journal, policy and approval modules (issue 22).

Read from the real process: ``PYTHONPROFILEIMPORTTIME`` makes Python name every module it imports
on stderr, as it imports it.  The first billable call loads them, and opens the journal, before
anything leaves: the send is recorded (the journal file exists, get_sms_status reads the record).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from stdio_server import SEND, Server

from bridge import emulator_env, rpc
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = pytest.mark.slow  # a real process

# Modules a session that never sends must not import (their parents and submodules alike).
SEND_ONLY = re.compile(
    r"\|\s+vertex_stdio\.vertexsms\.(journal|policy|approval|tools\.messaging|tools\.senders)\b"
)


def _call(server: Server, id_: int, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    server.send(rpc(id_, "tools/call", {"name": tool, "arguments": args}))
    answer = server.answers({id_})[id_]
    assert "result" in answer, answer
    return answer["result"]  # type: ignore[no-any-return]


def _send_only_imports(server: Server) -> list[str]:
    return sorted({m.group(0).split()[-1] for m in SEND_ONLY.finditer(server.stderr_path.read_text())})


def test_read_only_calls_import_no_journal_and_the_first_send_loads_and_records_it(tmp_path: Path) -> None:
    journal_file = tmp_path / "state" / "vertex-stdio" / "journal.sqlite3"
    with Emulator() as emulator:
        server = Server(emulator_env(tmp_path, emulator, PYTHONPROFILEIMPORTTIME="1"), tmp_path)
        try:
            server.initialize()
            assert server.tools_listed("list")
            operator = _call(server, 1, "get_operator", {"operatorId": 1101})  # REST, through the SDK
            assert not operator.get("isError"), operator
            numbers = _call(
                server, 2, "correct_phone_number", {"numbers": [{"number": "861860698", "country": "LT"}]}
            )
            assert not numbers.get("isError"), numbers
            assert server.tools_listed("list-again")
            assert "import time:" in server.stderr_path.read_text()  # the trace is there to read
            assert _send_only_imports(server) == []
            assert not journal_file.exists()

            sent = _call(server, 3, "send_sms", SEND)
            assert not sent.get("isError"), sent
            assert "vertex_stdio.vertexsms.journal" in _send_only_imports(server)
            assert journal_file.exists()
            status = _call(
                server, 4, "get_sms_status", {"message_id": sent["structuredContent"]["message_id"]}
            )
            assert status["structuredContent"]["journal"] is not None  # recorded
        finally:
            server.finish()
