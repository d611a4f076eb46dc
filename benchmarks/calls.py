"""2, 3 and 5: calls through the real ``vertex-stdio`` process, and its memory afterwards.

One SDK client talks to the bridge over stdio, as a desktop client does.  Baselines, in the
same run: the same HTTP request made directly with httpx2 from this (warm) process, and the
SDK's own floor (``sdk_floor.py``: a minimal MCPServer tool that does no I/O).  Sequential
calls are measured in blocks, interleaved bridge / direct / floor, so a change in the
machine's load during the run hits all three alike.  CPU seconds per call (from /proc, Linux
only) are shown too: unlike latency they hardly move with the machine's load.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
from harness import Before, Plan, UpstreamProcess
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from stats import Figure, Report, Target, percentile

HERE = Path(__file__).resolve().parent
OPERATOR_ID = 1101
ARGUMENTS = {"operatorId": OPERATOR_ID}
POOL_LIMIT = 100  # upstream/rest.py make_client: max_connections

Call = Callable[[], Coroutine[object, object, float]]


def child_pid(argv: list[str]) -> int | None:
    """The pid of our one child process whose command line is exactly ``argv`` (Linux /proc)."""
    proc, me, found = Path("/proc"), str(os.getpid()), []
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and [c.decode() for c in cmdline] == argv:
            found.append(int(entry.name))
    return found[0] if len(found) == 1 else None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds used so far by ``pid`` (Linux /proc), else None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settled(pids: list[int | None], *, window: float = 0.3, most: float = 30.0) -> list[int]:
    """Wait until every process in ``pids`` is idle -- under 3% of a core over ``window`` seconds
    while nobody calls it -- so that the rounds measure each bridge's calls and not the rest of
    its start-up (``serve`` and ``connect`` import the SDK in the background after their first
    calls: ~1.3 s of CPU, which would land in the first block or burst).  At most ``most``
    seconds in all; returns the pids that never settled (their figures include that work)."""
    waiting = [pid for pid in pids if pid is not None]
    deadline = time.monotonic() + most
    while waiting and time.monotonic() < deadline:
        before = {pid: cpu_seconds(pid) for pid in waiting}
        await anyio.sleep(window)
        busy = []
        for pid in waiting:
            start, end = before[pid], cpu_seconds(pid)
            if start is not None and end is not None and end - start > 0.03 * window:
                busy.append(pid)
        waiting = busy
    return waiting


def peak_rss_mb(pid: int | None) -> float | None:
    """VmHWM (the peak resident set) of ``pid`` in MB, from /proc; None elsewhere."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children_peak_rss_mb() -> float:
    """Fallback off Linux: the largest peak RSS of any ended child (``resource``)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class CpuMeter:
    """CPU seconds of the bridge (by pid) and of this process, between ``start`` and ``stop``."""

    def __init__(self, pid: int | None) -> None:
        self._pid = pid
        self.bridge: list[float] = []
        self.client: list[float] = []

    def start(self) -> None:
        self._b0, self._c0 = cpu_seconds(self._pid), time.process_time()

    def stop(self, calls: int) -> None:
        b1 = cpu_seconds(self._pid)
        if b1 is not None and self._b0 is not None:
            self.bridge.append(1000 * (b1 - self._b0) / calls)
        self.client.append(1000 * (time.process_time() - self._c0) / calls)


def _timed_tool(client: Client) -> Call:
    async def call() -> float:
        started = time.perf_counter()
        result = await client.call_tool("get_operator", ARGUMENTS)
        elapsed = time.perf_counter() - started
        if result.is_error:
            raise RuntimeError(f"get_operator failed: {result.content}")
        return elapsed

    return call


def _timed_direct(http: httpx2.AsyncClient) -> Call:
    async def call() -> float:
        started = time.perf_counter()
        response = await http.get(f"/operators/{OPERATOR_ID}")
        response.raise_for_status()
        response.json()
        return time.perf_counter() - started

    return call


async def _block(call: Call, n: int) -> list[float]:
    return [1000 * await call() for _ in range(n)]


@dataclass(frozen=True)
class Paths:
    """The ways to make the call: through the bridge, directly, and the two SDK floors."""

    bridge: Call
    direct: Call
    floor: Call  # minimal MCPServer, no I/O
    floor_http: Call  # minimal MCPServer + one plain httpx2 GET to the same upstream
    bridge_pid: int | None
    before: Call | None = None  # the bridge's code at an earlier commit (harness.Before)
    before_pid: int | None = None


async def measure_calls(
    report: Report, plan: Plan, env: dict[str, str], upstream: UpstreamProcess, before: Before | None = None
) -> None:
    """Sections 2, 3 and 5 against one bridge process (and, for CPU, the bridge ``before``)."""
    floor = [str(HERE / "sdk_floor.py")]
    headers = {"X-VertexSMS-Token": env["VERTEXSMS_API_TOKEN"]}
    before_args = ["-m", "vertex_stdio", "serve"]  # "serve" keeps its command line apart from ours
    before_env = {**env, "PYTHONPATH": str(before.src)} if before else env
    async with (
        httpx2.AsyncClient(base_url=upstream.url, headers=headers) as direct_http,
        _stdio_client(["-m", "vertex_stdio"], env) as bridge_client,
        _stdio_client(floor, env) as floor_client,
        _stdio_client([*floor, "--http", upstream.url], env) as floor_http_client,
        _stdio_client(before_args if before else floor, before_env) as before_client,
    ):
        paths = Paths(
            _timed_tool(bridge_client),
            _timed_direct(direct_http),
            _timed_tool(floor_client),
            _timed_tool(floor_http_client),
            child_pid([sys.executable, "-m", "vertex_stdio"]),
            _timed_tool(before_client) if before else None,
            child_pid([sys.executable, *before_args]) if before else None,
        )
        for _ in range(20):  # warm every path: connections open, caches filled, code paths run
            await paths.bridge(), await paths.direct(), await paths.floor(), await paths.floor_http()
            if paths.before:
                await paths.before()
        one_call = await _sequential(report, plan, paths)
        await _bursts(report, plan, paths, upstream, *one_call)
        rss = peak_rss_mb(paths.bridge_pid)
    if rss is None:
        rss = children_peak_rss_mb()
    report.add("5. Memory", Figure("bridge peak RSS (VmHWM) after 1-3", "MB", [rss]))
    report.targets.append(Target("peak RSS <= 80 MB", rss, 80.0, "MB"))


@asynccontextmanager
async def _stdio_client(args: list[str], env: dict[str, str]) -> AsyncIterator[Client]:
    """An SDK client for ``python ARGS`` over stdio; the server's stderr (its log) is dropped."""
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            yield client


async def _sequential(report: Report, plan: Plan, paths: Paths) -> tuple[float, float]:
    """Section 2; returns one call's latency (pooled p50, ms) through the bridge and the floor."""
    blocks, per_block = plan.call_blocks, plan.calls_per_block
    ms: dict[str, list[list[float]]] = {"bridge": [], "direct": [], "floor": [], "floor_http": []}
    meter, before = CpuMeter(paths.bridge_pid), CpuMeter(paths.before_pid)
    for _ in range(blocks):  # interleaved, so drift in the machine's load hits all alike
        meter.start()
        ms["bridge"].append(await _block(paths.bridge, per_block))
        meter.stop(per_block)
        if paths.before:
            before.start()
            await _block(paths.before, per_block)
            before.stop(per_block)
        ms["direct"].append(await _block(paths.direct, per_block))
        ms["floor"].append(await _block(paths.floor, per_block))
        ms["floor_http"].append(await _block(paths.floor_http, per_block))
    section = f"2. Per-call latency, get_operator (ms; {blocks} blocks x {per_block} sequential calls each)"
    pooled = {name: [x for block in blocks_ for x in block] for name, blocks_ in ms.items()}
    for q in (50, 99):
        b = [percentile(block, q) for block in ms["bridge"]]
        d = [percentile(block, q) for block in ms["direct"]]
        report.add(section, Figure(f"bridge p{q} (client->stdio->bridge->upstream)", "ms", b, "per block"))
        report.add(section, Figure(f"baseline: direct httpx2 p{q}", "ms", d, "per block"))
        over = [x - y for x, y in zip(b, d, strict=True)]
        report.add(section, Figure(f"overhead p{q} = bridge - direct", "ms", over, "per block"))
        overall = percentile(pooled["bridge"], q) - percentile(pooled["direct"], q)
        report.add(section, Figure(f"overhead p{q} over all {blocks * per_block} calls", "ms", [overall]))
        limit = 2.0 if q == 50 else 5.0
        report.targets.append(Target(f"per-call overhead p{q} < {limit:g} ms", overall, limit, "ms"))
    for q in (50, 99):
        floor = percentile(pooled["floor"], q)
        floor_http = percentile(pooled["floor_http"], q) - percentile(pooled["direct"], q)
        report.add(section, Figure(f"context: SDK round trip p{q} (MCPServer, no I/O)", "ms", [floor]))
        report.add(
            section,
            Figure(f"context: SDK + httpx2 GET p{q} - direct", "ms", [floor_http], "least a bridge costs"),
        )
    if meter.bridge:
        report.add(section, Figure("bridge CPU per call", "ms", meter.bridge, "from /proc"))
    _versus_before(report, section, meter, before)
    report.add(section, Figure("client (SDK) CPU per call, this process", "ms", meter.client))
    return percentile(pooled["bridge"], 50), percentile(pooled["floor_http"], 50)


def _versus_before(report: Report, section: str, meter: CpuMeter, before: CpuMeter) -> None:
    name = "REST bridge CPU per call <= 0.65x before"
    if not (meter.bridge and before.bridge):
        report.targets.append(Target(name, None, 0.65, "x", skipped="no 'before' bridge (--before)"))
        return
    report.add(
        section, Figure("before (--before REF): bridge CPU per call", "ms", before.bridge, "from /proc")
    )
    ratio = percentile(meter.bridge, 50) / percentile(before.bridge, 50)
    report.targets.append(Target(name, ratio, 0.65, "x", "median / median, same run"))


async def _burst(call: Call, size: int) -> float:
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(size):
            tg.start_soon(call)
    return 1000 * (time.perf_counter() - started)


async def _bursts(
    report: Report, plan: Plan, paths: Paths, upstream: UpstreamProcess, one_call: float, floor_call: float
) -> None:
    size, bursts = plan.burst_size, plan.bursts
    section = f"3. Concurrency ({size} get_operator calls in flight at once from one client)"
    walls, floor_walls, accepted, max_open = [], [], [], []
    meter = CpuMeter(paths.bridge_pid)
    for _ in range(bursts):
        upstream.reset()
        meter.start()
        walls.append(await _burst(paths.bridge, size))
        meter.stop(size)
        seen = upstream.stats()
        accepted.append(float(seen["accepted"]))
        max_open.append(float(seen["max_open"]))
        await anyio.sleep(0.2)
        floor_walls.append(await _burst(paths.floor_http, size))
        await anyio.sleep(0.2)
    ratios = [w / one_call for w in walls]
    report.add(section, Figure("baseline: one call (sequential p50)", "ms", [one_call]))
    report.add(section, Figure("wall time for the burst", "ms", walls))
    report.add(section, Figure("ratio burst / one call", "x", ratios))
    report.add(section, Figure("TCP connections accepted upstream", "n", accepted, "per burst"))
    report.add(section, Figure("most connections open at once", "n", max_open, "per burst"))
    if meter.bridge:
        report.add(section, Figure("bridge CPU per call in a burst", "ms", meter.bridge, "from /proc"))
    report.add(section, Figure("client (SDK) CPU per call in a burst", "ms", meter.client))
    floor_ratios = [w / floor_call for w in floor_walls]
    report.add(
        section, Figure("context: SDK + httpx2 GET, burst / one call", "x", floor_ratios, "same client")
    )
    report.targets.append(
        Target(f"{size} concurrent calls <= 3x one call", percentile(ratios, 50), 3.0, "x", "median burst")
    )
    report.targets.append(
        Target(
            f"bounded pool (<= {POOL_LIMIT} connections open)",
            max(max_open),
            POOL_LIMIT,
            "n",
            "most in any burst",
        )
    )
