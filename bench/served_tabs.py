"""A classroom on one machine: ``gate-console --serve`` with N tabs following 200 events/s.

Usage: ``python -m bench.served_tabs [--tabs 30] [--rate 200] [--batch 10] [--seconds 20]
[--panel feed|cluster] [--dir DIR] [--json-out [PATH]]``.

Starts a 3-node cluster (fsync always, majority quorum) and appends ``--rate`` events/s to its
``reg_gh`` store from an open-loop pacer, ``--batch`` events an append (as producers of several
sensors do: the tabs follow events, the cluster's cost is not the question).  First it
measures the cluster alone for ``--seconds`` (the gateway's CPU without tabs); then it starts
``gate-console --serve --connect`` and opens ``--tabs`` tabs, five at a time.  A tab here is
a WebSocket client speaking textual-serve's protocol, exactly what the page's xterm.js sends and
receives (``["stdin", key]`` in, the terminal's bytes out):
the teacher's machine runs the server and one real console process per tab whatever draws the
bytes, while a browser's drawing runs on each student's machine, so 30 headless browsers here
would measure Chromium on this machine instead of what a class costs it.  Each tab does what a
student following a lesson does: an observer of ``$all`` (``3``, ``n``, Enter) and the Feed
panel (``2``), which then follows every event (``--panel cluster``: the Cluster panel alone, a
student watching a failover).  A tab whose console is not up within two minutes means the
machine holds no more seats: the run stops opening tabs and measures those it has.  With every
tab up, it measures for ``--seconds`` again: the whole machine's CPU, the gateway's (and what
the tabs added to it), the nodes', the server's and the tabs' consoles', their memory, and in
the first tab the time from a key press (``1`` and ``2`` in turn, switching panels) until the
new panel's text arrives (p50 / p95 / max, nearest rank).  The CPU steal says how much of the
run a neighbour took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.lib.cluster import RunningCluster, cluster_config, free_ports, start_cluster
from bench.lib.driver import sample_events
from bench.lib.machine import MACHINE, CpuMeter, Steal, StealWatch, usable_cores
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Figure, Results, add_json_out
from engine.client import GateClient, GateError

STORE = "reg_gh"  # the store the consoles show
COLUMNS, ROWS = 120, 36  # a laptop's browser window at the page's font size
ROOT = Path(__file__).resolve().parents[1]
# Keys of the measured tab and the text that shows once its screen has followed them.
SWITCHES = (("1", b"Timeline"), ("2", b"Sources:"))
ARRIVING = 5  # tabs opened at once
START_TIMEOUT = 120.0  # seconds for a tab's console to come up and follow: after that, the
# machine holds no more seats, and the run measures the tabs it has


@dataclass
class Tab:
    """One browser tab as textual-serve sees it: a WebSocket that starts and drives a console."""

    socket: aiohttp.ClientWebSocketResponse
    received: int = 0  # terminal bytes so far
    since: bytearray = field(default_factory=bytearray)  # bytes since the last ``mark``
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        """Take what the console draws, as the page does (it would hand it to xterm.js)."""
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.received += len(message.data)
                self.since += message.data
                del self.since[:-65536]
                self.arrived.set()

    def mark(self) -> None:
        """Look for text from now on only."""
        self.since.clear()

    async def press(self, key: str) -> None:
        await self.socket.send_str(json.dumps(["stdin", key]))

    async def wait_for(self, text: bytes, timeout: float) -> float:
        """Seconds until ``text`` arrives after the last ``mark`` (TimeoutError: not in time)."""
        started = time.perf_counter()
        async with asyncio.timeout(timeout):
            while text not in self.since:
                self.arrived.clear()
                await self.arrived.wait()
        return time.perf_counter() - started

    async def key(self, key: str, text: bytes, timeout: float = 60.0) -> float:
        """Press ``key`` and wait until ``text`` shows: the key-to-screen time."""
        self.mark()
        await self.press(key)
        return await self.wait_for(text, timeout)


async def open_tab(
    http: aiohttp.ClientSession, url: str, readers: list[asyncio.Task[None]], feed: bool
) -> Tab | None:
    """A tab on the Feed panel following an observer of ``$all`` (``feed``), or on the Cluster
    panel; None when its console did not get there within ``START_TIMEOUT``."""
    socket = await http.ws_connect(f"{url}/ws?width={COLUMNS}&height={ROWS}", max_msg_size=0)
    tab = Tab(socket)
    readers.append(asyncio.create_task(tab.read()))
    try:
        await tab.wait_for(b"Timeline", START_TIMEOUT)  # the console is up on the Cluster panel
        if feed:
            await tab.key("3", b"Dropped", START_TIMEOUT)  # the Observers panel's table
            await tab.key("n", b"Enter stream name", START_TIMEOUT)
            await tab.key("\r", b"reg_gh:$all", START_TIMEOUT)  # the default: $all, its name
            await tab.key("2", b"Sources:", START_TIMEOUT)
    except TimeoutError:
        await socket.close()  # the server ends its console
        return None
    return tab


async def pace(
    client: GateClient, rate: int, batch: int, stop: asyncio.Event, errors: Counter[str]
) -> int:
    """Append ``rate`` events a second in ``batch``-event appends, open loop (a slow append
    never delays the next)."""
    events = sample_events(19)
    pending: set[asyncio.Task[object]] = set()
    sent = 0
    started = time.perf_counter()
    while not stop.is_set():
        due = started + sent / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        first = events[sent % len(events)]
        stream = first["data"]["greenhouse_id"]
        appended = [events[(sent + k) % len(events)] for k in range(batch)]
        task = asyncio.create_task(client.append(STORE, stream, appended))
        pending.add(task)
        task.add_done_callback(pending.discard)
        task.add_done_callback(lambda t: _count_error(t, errors))
        sent += batch
    await asyncio.gather(*pending, return_exceptions=True)
    return sent


def _count_error(task: asyncio.Task[object], errors: Counter[str]) -> None:
    error = task.exception()
    if error is not None:
        errors[str(getattr(error, "code", type(error).__name__))] += 1


def tab_pids(gateway: str) -> list[int]:
    """The tabs' console processes: the server runs each as ``… --connect <gateway>``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                tab = b"console.tui.main" in cmdline and b"--serve" not in cmdline
                if tab and gateway.encode() in cmdline:
                    pids.append(int(entry.name))
    return pids


def rss_mb(pids: list[int]) -> float:
    """Resident memory of ``pids`` together, in MB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


async def measure(
    cluster: RunningCluster,
    tabs: int,
    rate: int,
    batch: int,
    seconds: float,
    feed: bool,
    directory: Path,
) -> tuple[dict[str, Figure], float, float]:
    """The figures of one run, and its CPU steal (average, worst window)."""
    async with cluster.new_client() as client:
        view = await client.cluster()
        with contextlib.suppress(GateError):
            await client.create_store(STORE)
        nodes = {node["node_id"]: int(node["pid"] or 0) for node in view["nodes"]}
        stop, errors = asyncio.Event(), Counter[str]()
        load = asyncio.create_task(pace(client, rate, batch, stop, errors))
        base = CpuMeter({"gateway": cluster.gateway_pid, **nodes, "bench": os.getpid()})
        await asyncio.sleep(1.0)  # the pacer reaches its rate
        before, started = base.sample(), time.monotonic()
        await asyncio.sleep(seconds)
        alone = CpuMeter.delta(before, base.sample())
        alone_seconds = time.monotonic() - started

        (port,) = free_ports(1)
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(directory / "serve.log", "wb") as log:  # noqa: ASYNC230
            command = [sys.executable, "-m", "console.tui.main", "--serve", "--port", str(port)]
            server = subprocess.Popen(  # noqa: ASYNC220 (it runs until the end of the run)
                [*command, "--connect", cluster.url],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        readers: list[asyncio.Task[None]] = []
        steal = StealWatch()
        try:
            async with aiohttp.ClientSession() as http:
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(url) as response:
                            if response.status == 200:
                                break
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not start; see {directory}/serve.log")
                    await asyncio.sleep(0.1)
                opened = time.monotonic()
                opened_tabs: list[Tab] = []
                late = 0
                while len(opened_tabs) + late < tabs and not late:  # a few arrive at a time
                    arriving = min(ARRIVING, tabs - len(opened_tabs))
                    came = await asyncio.gather(
                        *(open_tab(http, url, readers, feed) for _ in range(arriving))
                    )
                    opened_tabs += [tab for tab in came if tab is not None]
                    late = sum(tab is None for tab in came)
                    print(f"\rtabs up: {len(opened_tabs)}/{tabs}", end="", flush=True)
                if late:
                    print(f"; {late} did not come up in {START_TIMEOUT:g} s: stopped there")
                if not opened_tabs:
                    raise RuntimeError(f"no tab came up; see {directory}/serve.log")
                arrival = time.monotonic() - opened
                print(f" (in {arrival:.0f} s)", flush=True)
                consoles = tab_pids(cluster.url)
                meter = CpuMeter(
                    {"gateway": cluster.gateway_pid, **nodes, "bench": os.getpid()}
                    | {"server": server.pid}
                    | {f"tab {pid}": pid for pid in consoles}
                )
                await asyncio.sleep(2.0)  # the last tab's start settles
                bytes_before = sum(tab.received for tab in opened_tabs)
                before, started = meter.sample(), time.monotonic()
                steal.start()
                latencies: list[float] = []
                ended = time.monotonic() + seconds
                while time.monotonic() < ended:
                    for key, text in SWITCHES:
                        latencies.append(await opened_tabs[0].key(key, text, timeout=30.0))
                        await asyncio.sleep(0.5)  # a person looks at the panel
                steal.stop()
                cpu = CpuMeter.delta(before, meter.sample())
                elapsed = time.monotonic() - started
                drawn = sum(tab.received for tab in opened_tabs) - bytes_before
                memory = rss_mb(consoles)
                server_memory = rss_mb([server.pid])
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            stop.set()
            sent = await load
    tab_cpu = sum(sec for name, sec in cpu.items() if name.startswith("tab "))
    node_cpu = sum(cpu.get(node, 0.0) for node in nodes)
    node_alone = sum(alone.get(node, 0.0) for node in nodes)
    figures: dict[str, Figure] = {
        "tabs_asked": tabs,
        "tabs_up": len(opened_tabs),
        "tabs_late": late,
        "panel": "feed" if feed else "cluster",
        "consoles": len(consoles),
        "events_per_s": rate,
        "events_per_append": batch,
        "events_sent": sent,
        "append_errors": ", ".join(f"{code}: {n}" for code, n in errors.most_common()) or "none",
        "tabs_arrival_s": round(arrival, 1),
        "machine_cores_busy": round(cpu[MACHINE] / elapsed, 2),
        "machine_cores_busy_without_tabs": round(alone[MACHINE] / alone_seconds, 2),
        "bench_cores": round(cpu["bench"] / elapsed, 3),
        "gateway_cores": round(cpu["gateway"] / elapsed, 3),
        "gateway_cores_without_tabs": round(alone["gateway"] / alone_seconds, 3),
        "gateway_added_cores": round(
            cpu["gateway"] / elapsed - alone["gateway"] / alone_seconds, 3
        ),
        "nodes_cores": round(node_cpu / elapsed, 3),
        "nodes_cores_without_tabs": round(node_alone / alone_seconds, 3),
        "server_cores": round(cpu.get("server", 0.0) / elapsed, 3),
        "tabs_cores": round(tab_cpu / elapsed, 2),
        "tab_cores_each": round(tab_cpu / elapsed / max(1, len(consoles)), 3),
        "tabs_rss_mb": round(memory),
        "tab_rss_mb_each": round(memory / max(1, len(consoles)), 1),
        "server_rss_mb": round(server_memory),
        "drawn_kb_per_s_per_tab": round(drawn / elapsed / max(1, len(opened_tabs)) / 1024, 1),
        "key_presses": len(latencies),
        "key_to_screen_p50_ms": round(percentile_ms(latencies, 0.50), 1),
        "key_to_screen_p95_ms": round(percentile_ms(latencies, 0.95), 1),
        "key_to_screen_max_ms": round(max(latencies) * 1000, 1),
    }
    return figures, steal.average, steal.worst


async def run(args: argparse.Namespace, results: Results) -> None:
    directory = Path(tempfile.mkdtemp(prefix="gate-bench-", dir=args.dir))
    try:
        raw = cluster_config(
            directory,
            extra={
                "storage": {"dataDir": str(directory / "data"), "fsync": "always"},
                "replication": {"writeQuorum": "majority"},
            },
        )
        cluster = await start_cluster(directory, raw)
        try:
            figures, steal, worst = await measure(
                cluster,
                args.tabs,
                args.rate,
                args.batch,
                args.seconds,
                args.panel == "feed",
                directory,
            )
        finally:
            await cluster.embedded.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(
        f"== {args.tabs} served tabs on the {args.panel}, {args.rate} events/s, {args.seconds:g} s"
    )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"machine: {usable_cores()} cores, load {load}; CPU steal {steal:.1f} %", end="")
    print(f" (worst window {worst:.1f} %)")
    for name, value in figures.items():
        print(f"  {name:<34} {value}")
    scenario = f"{args.tabs} served tabs on the {args.panel}, {args.rate} events/s"
    results.add(scenario, figures, Steal(steal, worst))
    results.save()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.served_tabs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--tabs", type=int, default=30, help="browser tabs (default 30)")
    parser.add_argument("--rate", type=int, default=200, help="events per second (default 200)")
    parser.add_argument(
        "--batch", type=int, default=10, help="events per append (default 10: 20 appends/s)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="each measurement's length (default 20)"
    )
    parser.add_argument(
        "--panel",
        choices=("feed", "cluster"),
        default="feed",
        help="what each tab shows: the feed of an $all observer (default), or the cluster",
    )
    parser.add_argument("--dir", help="parent of the cluster's temporary data (not a tmpfs)")
    add_json_out(parser, "served_tabs")
    args = parser.parse_args()
    asyncio.run(run(args, Results("served_tabs", args.json_out)))


if __name__ == "__main__":
    main()
