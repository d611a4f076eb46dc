"""Fault injection, the journal, and the emulator's lifecycle (start, stop, standalone mode)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from vertex_stdio.vertexsms.sandbox import SANDBOX_TOKEN, Emulator, Fault

HLR = {"msisdn": "37061860698", "callBackUrl": "https://example.com/hlr"}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx2.Client]:
    """A fresh client per test (a dropped connection must not leak into the next test)."""
    emu.clear_faults()
    emu.clear_journal()
    headers = {"X-VertexSMS-Token": SANDBOX_TOKEN}
    with httpx2.Client(base_url=emu.api_url, headers=headers, timeout=3, verify=False) as client:
        yield client


def test_status_and_body_override_the_next_request_only(emu: Emulator, api: httpx2.Client) -> None:
    """A status+body fault answers once, then the real endpoint answers again."""
    emu.inject(Fault(method="POST", path="/sms", status=503, body=b'{"message": "Maintenance"}'))
    first = api.post("/sms", json={"to": "37061860698", "from": "Shop", "message": "hi"})
    assert (first.status_code, first.json()) == (503, {"message": "Maintenance"})
    second = api.post("/sms", json={"to": "37061860698", "from": "Shop", "message": "hi"})
    assert second.status_code == 200
    seen = emu.journal_for("POST", "/sms")
    assert [s.fault is not None for s in seen] == [True, False]
    assert seen[0].json()["to"] == "37061860698"


def test_status_alone_gets_a_message_body_and_extra_headers(emu: Emulator, api: httpx2.Client) -> None:
    """A bare status answers {"message": <reason>}; fault headers are added."""
    emu.inject(Fault(path="/rates/", status=429, headers={"Retry-After": "7"}))
    response = api.get("/rates/", params={"format": "json"})
    assert (response.status_code, response.json()) == (429, {"message": "Too Many Requests"})
    assert response.headers["retry-after"] == "7"


def test_headers_only_fault_keeps_the_real_answer(emu: Emulator, api: httpx2.Client) -> None:
    """Headers alone are added to the real response; a header can also be replaced."""
    emu.inject(Fault(path="/operators/1101", headers={"X-Extra": "1", "Content-Type": "text/plain"}))
    response = api.get("/operators/1101")
    assert response.status_code == 200
    assert response.headers["x-extra"] == "1"
    assert response.headers["content-type"] == "text/plain"
    assert b"Telia Lietuva" in response.content


def test_times_and_matching(emu: Emulator, api: httpx2.Client) -> None:
    """times=2 hits two matching requests; other paths and methods are untouched; None lasts."""
    emu.inject(Fault(method="GET", path="/mccmnc/LT", status=500, times=2))
    assert api.post("/hlr", json=HLR).status_code == 200
    statuses = [api.get("/mccmnc/LT").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    emu.inject(Fault(path="/mccmnc/LV", status=502, times=None))
    assert [api.get("/mccmnc/LV").status_code for _ in range(3)] == [502, 502, 502]
    emu.clear_faults()
    assert api.get("/mccmnc/LV").status_code == 200
    with pytest.raises(ValueError, match="times"):
        emu.inject(Fault(times=0))


def test_drop_closes_without_a_response(emu: Emulator, api: httpx2.Client) -> None:
    """drop=True: the client sees the server disconnect; the request is still journaled."""
    emu.inject(Fault(method="POST", path="/hlr", drop=True))
    with pytest.raises(httpx2.RemoteProtocolError):
        api.post("/hlr", json=HLR)
    (seen,) = emu.journal_for("POST", "/hlr")
    assert seen.json() == HLR
    assert seen.fault is not None
    assert seen.fault.drop


def test_delay_holds_the_answer(emu: Emulator, api: httpx2.Client) -> None:
    """delay sleeps before the real answer."""
    emu.inject(Fault(path="/operators/1102", delay=0.3))
    started = time.monotonic()
    response = api.get("/operators/1102")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_silence_after_headers(emu: Emulator, api: httpx2.Client) -> None:
    """Headers arrive, then nothing: the client's read timeout fires."""
    emu.inject(Fault(path="/operators/1103", silence_after_headers=True))
    with api.stream("GET", "/operators/1103", timeout=httpx2.Timeout(3, read=0.3)) as response:
        assert response.status_code == 200
        with pytest.raises(httpx2.ReadTimeout):
            response.read()


def test_drip_trickles_the_body(emu: Emulator, api: httpx2.Client) -> None:
    """drip_bytes_per_s sends the full body slowly."""
    body = b'{"message": "' + b"x" * 20 + b'"}'
    emu.inject(Fault(path="/sms", status=400, body=body, drip_bytes_per_s=100))
    started = time.monotonic()
    response = api.post("/sms", json={})
    assert time.monotonic() - started >= 0.25
    assert (response.status_code, response.content) == (400, body)


def test_body_size_streams_a_huge_body(emu: Emulator, api: httpx2.Client) -> None:
    """body_size answers with that many bytes."""
    emu.inject(Fault(path="/rates/", body_size=5_000_000))
    response = api.get("/rates/")
    assert response.headers["content-length"] == "5000000"
    assert len(response.content) == 5_000_000


def test_faults_apply_to_mcp_too(emu: Emulator, api: httpx2.Client) -> None:
    """/mcp requests are matched like any other path."""
    emu.inject(Fault(path="/mcp", status=503))
    assert api.post("/mcp", json={}).status_code == 503


def test_journal_records_method_path_query_headers_body_time(emu: Emulator, api: httpx2.Client) -> None:
    """Each Seen carries the request as received, in order, with monotonic times."""
    api.get("/mccmnc/DE", params={"Page": "2"}, headers={"X-Trace": "abc"})
    api.post("/hlr", json=HLR)
    first, second = emu.journal
    assert (first.method, first.path, first.query, first.body) == ("GET", "/mccmnc/DE", {"Page": "2"}, b"")
    assert first.headers["x-trace"] == "abc"
    assert first.headers["x-vertexsms-token"] == SANDBOX_TOKEN
    assert second.json() == HLR
    assert first.time <= second.time <= time.monotonic()
    assert emu.journal_for("get", "/mccmnc/DE/") == [first]
    emu.clear_journal()
    assert emu.journal == []


def _request_in_background(url: str, outcome: list[BaseException | int]) -> threading.Thread:
    def run() -> None:
        try:
            response = httpx2.get(url, headers={"X-VertexSMS-Token": SANDBOX_TOKEN}, timeout=30, verify=False)
            outcome.append(response.status_code)
        except httpx2.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "fault",
    [Fault(path="/operators/1101", delay=30), Fault(path="/operators/1101", silence_after_headers=True)],
)
def test_stop_is_prompt_while_a_fault_stalls(fault: Fault) -> None:
    """stop() cuts off a long delay or a silent response and returns within a second or so."""
    emulator = Emulator().start()
    emulator.inject(fault)
    outcome: list[BaseException | int] = []
    thread = _request_in_background(f"{emulator.api_url}/operators/1101", outcome)
    deadline = time.monotonic() + 5
    while not emulator.journal and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 2
    thread.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx2.HTTPError)


def test_lifecycle_errors_and_restart() -> None:
    """URLs need start(); double start fails; stop is idempotent; an emulator can restart."""
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.api_url
    emulator.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            emulator.start()
        assert emulator.mcp_url == emulator.api_url + "/mcp"
    finally:
        emulator.stop()
    emulator.stop()
    with emulator:
        assert (
            httpx2.get(f"{emulator.api_url}/operators/1101", params={"at": SANDBOX_TOKEN}).status_code == 200
        )


def test_a_taken_port_fails_in_start() -> None:
    """Binding a port already in use raises at start(), not later."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            Emulator(port=taken.getsockname()[1]).start()


def _standalone(*args: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "vertex_stdio.vertexsms.sandbox", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


@pytest.mark.slow
def test_standalone_mode_prints_its_url_and_stops_on_sigterm() -> None:
    """python -m vertex_stdio.vertexsms.sandbox: URL first on stdout, serves the token given, exits 0 on SIGTERM."""
    process, url = _standalone("--token", "tok-1")
    try:
        assert url.startswith("http://127.0.0.1:")
        response = httpx2.get(f"{url}/operators/1101", headers={"X-VertexSMS-Token": "tok-1"}, verify=False)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="closes a pipe")
def test_standalone_mode_stops_on_stdin_eof() -> None:
    """With --stop-on-stdin-eof, closing stdin stops the emulator."""
    process, url = _standalone("--stop-on-stdin-eof")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
