"""lookup_hlr's callBackUrl (and a sender's notificationUrl) must be a place VertexSMS can reach:
loopback, private, link-local and local names are INVALID_INPUT before anything is sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import connected, envelope, ok, process_env
from vertex_stdio.vertexsms.sandbox import Emulator

pytestmark = pytest.mark.anyio
REFUSED = [
    "https://127.0.0.1/cb",
    "http://localhost:8080/cb",
    "https://LOCALHOST./cb",
    "https://10.1.2.3/cb",
    "https://192.168.0.10/cb",
    "https://172.16.5.4/cb",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/cb",
    "https://0.0.0.0/cb",
    "https://[::1]/cb",
    "https://[fd00::1]/cb",
    "https://[::ffff:127.0.0.1]/cb",
    "https://2130706433/cb",
    "https://0x7f.1/cb",
    "https://127.1/cb",
    "https://printer.local/cb",
    "https://db.internal/cb",
    "https://intranet/cb",
    "https://app.localhost/cb",
]
ARGS = ["--arg", "msisdn=+37061234567", "--arg", "callBackUrl=http://127.0.0.1:9/cb"]
ALLOWED = ["https://hooks.example.com/hlr", "https://8.8.8.8/cb", "https://[2606:4700::1111]/cb"]


async def test_a_callback_on_a_private_or_local_host_is_refused(emulator: Emulator) -> None:
    """Each refused URL is INVALID_INPUT naming callBackUrl, and nothing reaches VertexSMS."""
    emulator.clear_journal()
    async with connected(emulator) as client:
        for url in REFUSED:
            error = envelope(
                await client.call_tool("lookup_hlr", {"msisdn": "+37061234567", "callBackUrl": url})
            )
            assert (error["code"], error["fields"]) == ("INVALID_INPUT", ["callBackUrl"]), (url, error)
            assert "cannot reach" in error["message"], url
        for url in ALLOWED:
            assert ok(await client.call_tool("lookup_hlr", {"msisdn": "+37061234567", "callBackUrl": url}))
    assert len(emulator.journal_for("POST", "/hlr")) == len(ALLOWED)


@pytest.mark.slow
def test_the_real_process_refuses_a_loopback_callback(tmp_path: Path) -> None:
    """``call lookup_hlr`` with a loopback callBackUrl: INVALID_INPUT, exit 1."""
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "call", "lookup_hlr", "--sandbox", *ARGS],
        env=process_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]
    assert (error["code"], error["fields"]) == ("INVALID_INPUT", ["callBackUrl"])
