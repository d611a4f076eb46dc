"""6. The hosted path side by side: vertex-stdio and mcp-remote in front of one MCP server.

Every bridge forwards ``correct_phone_number`` to the same loopback Streamable HTTP server
(``mcp_upstream.py``: the SDK's server with its defaults, sessions and event-stream answers).
Baseline in the same run: the SDK's Streamable HTTP client calling that server directly from
this process.  Per bridge: start-up to ``tools/list`` and to the first ``tools/call`` answer
(``serve`` also not signed in, signed in with ``login --token``, in the sandbox with and without
the lean call path, with the lean front off and with the lean call path off, the last in every
round, as ``connect`` with its lean call path off; ``connect`` and mcp-remote under a client
that declares roots, also in front of a 2025-only server: ``declaring.py``); sequential calls from the SDK client
over stdio (interleaved blocks, the order rotated each round); bursts from a raw-pipe client
(all requests written at once, then every answer read: the SDK client itself caps a burst at
about 20x); CPU seconds per call and peak RSS from /proc.  mcp-remote comes from
``peers.py``; when it cannot be installed its column is skipped and the reason printed.
A call that fails (through any bridge, or direct) is left out of the timings and counted: a
target says none may fail, and the server's log is printed.  Only a bridge that stops
answering breaks the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from calls import child_pid, cpu_seconds, peak_rss_mb, settled
from connect_seed import seed
from declaring import check_era, declaring_bridges
from harness import TOKEN, Before, Plan
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ListRootsResult
from peers import mcp_remote
from sidebyside import Bridge, is_peer, report_hosted
from stats import Report, percentile

from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.store import PLAIN_FILE, TokenStore
from vertex_stdio.vertexsms.apitoken import keep

HERE = Path(__file__).resolve().parent
TOOL = "correct_phone_number"
KEPT = "vertex-stdio, login --token"
LEVERS = ("lean calls off", "lean front off")  # the bridges with one lever off end so
ARGUMENTS = {"numbers": [{"number": "861860698", "country": "LT"}]}
INIT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "vertex-stdio-benchmark", "version": "1"},
}


def _line(id_: int | None, method: str, params: dict[str, object] | None = None) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if id_ is not None:
        message["id"] = id_
    return json.dumps(message).encode() + b"\n"


class McpUpstream:
    """``mcp_upstream.py`` in its own process; end of its stdin stops it."""

    def __init__(self, era: str = "2026") -> None:
        # its log goes to a file, shown when a call through it fails (see ``log_excerpt``)
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 -- lives as long as the server; close() closes it
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "mcp_upstream.py"), "--era", era],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self._proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self._proc.stdout.readline())}/mcp"

    def log_excerpt(self, head: int = 80, tail: int = 20) -> str:
        """What the server logged: its first lines (the first failure, usually the cause) and its last."""
        self._log.flush()
        self._log.seek(0)
        lines = self._log.readlines()
        if len(lines) <= head + tail:
            return "".join(lines)
        return "".join([*lines[:head], f"[... {len(lines) - head - tail} lines ...]\n", *lines[-tail:]])

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


def bridges(
    url: str, env: dict[str, str], home: Path, before: Before | None, legacy_url: str, *, levers: bool = True
) -> tuple[list[Bridge], str | None]:
    """Ours, ours before (when given) and mcp-remote, and both under a client that declares roots
    (also in front of ``legacy_url``, the 2025-only server); plus why mcp-remote is missing.
    Without ``levers`` (``--quick``), no bridge with one lever off (their figures only)."""
    ours_env = {**env, "VERTEXSMS_MCP_URL": url}
    found = [Bridge("vertex-stdio", [sys.executable, "-m", "vertex_stdio"], ours_env)]
    if before is not None:
        # "serve" keeps its command line apart from ours; PYTHONPATH puts its src/ first
        argv = [sys.executable, "-m", "vertex_stdio", "serve"]
        found.append(Bridge(before.name, argv, {**ours_env, "PYTHONPATH": str(before.src)}))
    # `vertex-stdio connect URL` in front of the same server, signed in (state seeded, issue 12)
    connect_env = {
        **env,
        "XDG_STATE_HOME": str(home / "connect" / "state"),
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
    }
    connect = Bridge("vertex-stdio connect", seed(url, home / "connect"), connect_env)
    found.append(connect)
    found += variants(found[0], home)
    # connect's lean call path off (that lever alone); its own argv, so its pid is told apart
    found.append(
        Bridge(
            "vertex-stdio connect, lean calls off",
            [connect.argv[0], "-X", "variant=connect-lean-calls-off", *connect.argv[1:]],
            {**connect.env, "VERTEX_STDIO_LEAN_CALLS": "0"},
        )
    )
    if not levers:
        found = [b for b in found if not b.name.endswith(LEVERS)]
    peer = mcp_remote()
    found += declaring_bridges(connect, None if isinstance(peer, str) else peer, home, (url, legacy_url))
    if isinstance(peer, str):
        return found, peer
    headers = {"Authorization": f"Bearer {TOKEN}"}
    found.append(Bridge(peer.name, peer.argv(url, headers), peer.env(home)))
    return found, None


async def _read_answer(out: BufferedByteReceiveStream, id_: int) -> None:
    while True:
        line = await out.receive_until(b"\n", 64 * 1024 * 1024)
        if json.loads(line).get("id") == id_:
            return


@asynccontextmanager
async def raw_pipe(bridge: Bridge) -> AsyncIterator[tuple[Process, BufferedByteReceiveStream]]:
    """The bridge spawned with plain pipes, initialized; yields the process and its stdout."""
    async with await anyio.open_process(bridge.argv, env=bridge.env, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        out = BufferedByteReceiveStream(proc.stdout)
        await proc.stdin.send(_line(0, "initialize", {**INIT, "capabilities": bridge.declares}))
        with anyio.fail_after(60):
            await _read_answer(out, 0)
        await proc.stdin.send(_line(None, "notifications/initialized"))
        try:
            yield proc, out
        finally:
            await proc.stdin.aclose()
            with anyio.move_on_after(10):
                await proc.wait()


def variants(ours: Bridge, home: Path) -> list[Bridge]:
    """``serve`` at start-up as people meet it: not signed in (OAuth, no token yet), signed in with
    ``login --token`` (``kept_token``), the sandbox (and the sandbox with the lean call path off:
    its in-process first calls measured alone), and with the lean front off
    (``VERTEX_STDIO_LEAN=0``: that lever measured alone); and, in every round, with the lean call
    path off (``VERTEX_STDIO_LEAN_CALLS=0``: that lever alone)."""
    no_token = {k: v for k, v in ours.env.items() if k != "VERTEXSMS_API_TOKEN"}
    sandbox = {**ours.env, "VERTEXSMS_SANDBOX": "1"}
    return [
        Bridge("vertex-stdio, not signed in", ours.argv, no_token, startup_only=True),
        Bridge(KEPT, ours.argv, kept_token(no_token, home / "kept"), startup_only=True),
        Bridge("vertex-stdio --sandbox", ours.argv, sandbox, startup_only=True),
        Bridge(
            "vertex-stdio --sandbox, lean calls off",
            ours.argv,
            {**sandbox, "VERTEX_STDIO_LEAN_CALLS": "0"},
            startup_only=True,
        ),
        Bridge(
            "vertex-stdio, lean front off",
            ours.argv,
            {**ours.env, "VERTEX_STDIO_LEAN": "0"},
            startup_only=True,
        ),
        # its own command line (an -X option Python ignores), so its pid is told from ours by argv
        Bridge(
            "vertex-stdio, lean calls off",
            [ours.argv[0], "-X", "variant=lean-calls-off", *ours.argv[1:]],
            {**ours.env, "VERTEX_STDIO_LEAN_CALLS": "0"},
        ),
    ]


def kept_token(env: dict[str, str], home: Path) -> dict[str, str]:
    """``env`` signed in with ``login --token``: the token kept by the product's own ``keep``
    (the command itself checks the token on ``/rates/``, which the loopback server lacks) in the
    opt-in 0600 file store (no keyring here), and the record saying so; read at the first call."""
    state = home / "state" / "vertex-stdio"  # what XDG_STATE_HOME=home/state gives platformdirs
    store = TokenStore(state, FileSecrets(state / PLAIN_FILE))
    with ThreadPoolExecutor(1) as pool:  # called from inside the benchmark's event loop
        pool.submit(anyio.run, keep, store, TOKEN).result()
    return {**env, "XDG_STATE_HOME": str(home / "state"), "VERTEXSMS_ALLOW_FILE_STORE": "1"}


async def startup(bridge: Bridge) -> tuple[float, float]:
    """Seconds from spawning the bridge to its ``tools/list`` answer, and to its first
    ``tools/call`` answer (sent once the list came, as a client does)."""
    started = time.perf_counter()
    async with raw_pipe(bridge) as (proc, out):
        assert proc.stdin is not None
        await proc.stdin.send(_line(1, "tools/list"))
        with anyio.fail_after(60):
            await _read_answer(out, 1)
        listed = time.perf_counter() - started
        await proc.stdin.send(_line(2, "tools/call", {"name": TOOL, "arguments": ARGUMENTS}))
        with anyio.fail_after(60):
            await _read_answer(out, 2)
        return listed, time.perf_counter() - started


async def burst(
    proc: Process, out: BufferedByteReceiveStream, size: int, first: int, failed: list[str]
) -> float | None:
    """Milliseconds to get ``size`` answers to calls written in one go; None if any failed
    (each failure is added to ``failed``: counted and shown, not a broken benchmark)."""
    assert proc.stdin is not None
    params: dict[str, object] = {"name": TOOL, "arguments": ARGUMENTS}
    data = b"".join(_line(first + n, "tools/call", params) for n in range(size))
    waiting = set(range(first, first + size))
    started = time.perf_counter()
    await proc.stdin.send(data)
    failures = len(failed)
    with anyio.fail_after(120):
        while waiting:
            answer = json.loads(await out.receive_until(b"\n", 64 * 1024 * 1024))
            if answer.get("id") in waiting and ("error" in answer or answer.get("result", {}).get("isError")):
                failed.append(str(answer.get("error") or answer["result"].get("content"))[:300])
            waiting.discard(answer.get("id"))
    return 1000 * (time.perf_counter() - started) if len(failed) == failures else None


async def _calls(client: Client, n: int, failed: list[str]) -> list[float]:
    """Milliseconds of ``n`` sequential calls; a failed one is not timed but added to ``failed``."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        result = await client.call_tool(TOOL, ARGUMENTS)
        if not result.is_error:
            times.append(1000 * (time.perf_counter() - started))
        else:
            failed.append(str(result.content)[:300])
    return times


async def _sequential(plan: Plan, found: list[Bridge], url: str) -> Bridge:
    """Interleaved blocks of sequential calls over the SDK client; returns the direct baseline."""
    direct = Bridge("the direct SDK client", [], {})
    params = [
        (StdioServerParameters(command=b.argv[0], args=b.argv[1:], env=b.env), b.declares) for b in found
    ]
    async with Client(streamable_http_client(url), mode="legacy") as direct_client:
        await _run_blocks(plan, found, params, direct_client, direct)
    return direct


async def _run_blocks(
    plan: Plan,
    found: list[Bridge],
    params: list[tuple[StdioServerParameters, dict[str, object]]],
    direct_client: Client,
    direct: Bridge,
) -> None:
    with open(os.devnull, "w") as errlog:
        async with _clients(params, errlog) as clients:
            pids = [child_pid(b.argv) for b in found]
            for client, bridge in zip(clients, found, strict=True):
                await _calls(client, 20, bridge.failed)  # warm: connections open, code paths run
            await _calls(direct_client, 20, direct.failed)
            _unsettled(await settled(pids), found, pids)
            order = list(range(len(found) + 1))
            for _ in range(plan.call_blocks):
                for index in order:
                    if index == len(found):
                        times = await _calls(direct_client, plan.calls_per_block, direct.failed)
                        direct.p50.append(percentile(times, 50))
                        continue
                    before = cpu_seconds(pids[index])
                    times = await _calls(clients[index], plan.calls_per_block, found[index].failed)
                    after = cpu_seconds(pids[index])
                    found[index].p50.append(percentile(times, 50))
                    if before is not None and after is not None:
                        found[index].cpu.append(1000 * (after - before) / plan.calls_per_block)
                order = order[1:] + order[:1]  # rotate, so no bridge always follows the same one
            for index, pid in enumerate(pids):
                rss = peak_rss_mb(pid)
                if rss is not None:
                    found[index].rss.append(rss)


@asynccontextmanager
async def _clients(
    params: list[tuple[StdioServerParameters, dict[str, object]]], errlog: object
) -> AsyncIterator[list[Client]]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        clients = []
        for p, declares in params:
            # the SDK client declares roots when given a callback for them
            roots = {"list_roots_callback": _no_roots} if "roots" in declares else {}
            client = Client(stdio_client(p, errlog=errlog), mode="legacy", **roots)  # type: ignore[arg-type]
            clients.append(await stack.enter_async_context(client))
        yield clients


async def _no_roots(_context: object) -> ListRootsResult:
    return ListRootsResult(roots=[])


async def _bursts(plan: Plan, found: list[Bridge]) -> None:
    """Interleaved bursts from a raw-pipe client, one kept process per bridge."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        pipes = [await stack.enter_async_context(raw_pipe(b)) for b in found]
        for (proc, out), bridge in zip(pipes, found, strict=True):
            await burst(proc, out, 20, 1_000_000, bridge.failed)  # warm
        pids: list[int | None] = [proc.pid for proc, _ in pipes]
        _unsettled(await settled(pids), found, pids)
        for round_ in range(plan.bursts):
            for index in range(len(found)):
                proc, out = pipes[(index + round_) % len(found)]
                bridge = found[(index + round_) % len(found)]
                before = cpu_seconds(proc.pid)
                wall = await burst(proc, out, plan.burst_size, 1 + round_ * plan.burst_size, bridge.failed)
                after = cpu_seconds(proc.pid)
                if wall is None:
                    continue  # a burst with a failed call is not timed
                bridge.burst.append(wall)
                if before is not None and after is not None:
                    bridge.burst_cpu.append(1000 * (after - before) / plan.burst_size)
                await anyio.sleep(0.2)
        for bridge, (proc, _) in zip(found, pipes, strict=True):
            rss = peak_rss_mb(proc.pid)
            if rss is not None:
                bridge.rss.append(rss)


def _unsettled(busy: list[int], found: list[Bridge], pids: list[int | None]) -> None:
    """Say which bridges were still busy (without a call) when the rounds began."""
    for bridge, pid in zip(found, pids, strict=True):
        if pid in busy:
            sys.stderr.write(f"benchmark: {bridge.name} was still busy when its rounds began\n")


async def measure_hosted(
    report: Report, plan: Plan, env: dict[str, str], home: Path, before: Before | None
) -> None:
    """Section 6 and its targets."""
    with ExitStack() as servers:
        upstream = McpUpstream()
        servers.callback(upstream.close)
        legacy = McpUpstream(era="2025")
        servers.callback(legacy.close)
        await check_era(upstream.url, "2026")
        await check_era(legacy.url, "2025")
        found, missing = bridges(upstream.url, env, home, before, legacy.url, levers=plan.levers)
        for bridge in found[:1]:
            await startup(bridge)  # warm the OS file cache, unmeasured
        for bridge in found[1:]:  # a peer that does not start is skipped, not a broken benchmark
            try:
                await startup(bridge)
            except (OSError, TimeoutError, ValueError, anyio.EndOfStream, anyio.IncompleteRead) as exc:
                found.remove(bridge)
                why = f"{bridge.name} did not answer tools/list ({type(exc).__name__})"
                sys.stderr.write(f"benchmark: skipped: {why}\n")
                missing = why if is_peer(bridge.name) else missing
        for _ in range(plan.startup_runs):  # interleaved: drift in the machine's load hits all alike
            for bridge in found:
                listed, called = await startup(bridge)
                bridge.startup.append(listed)
                bridge.first_call.append(called)
        serving = [b for b in found if not b.startup_only]
        direct = await _sequential(plan, [b for b in serving if not b.remote], upstream.url)
        await _bursts(plan, serving)
        if any(b.failed for b in [*found, direct]):
            for server, name in ((upstream, "MCP server"), (legacy, "2025-only MCP server")):
                sys.stderr.write(
                    f"benchmark: calls failed; what the {name} logged:\n{server.log_excerpt()}\n"
                )
    report_hosted(report, found, direct, missing)
