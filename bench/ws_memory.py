"""The gateway's memory with many WebSockets, some of whose clients never read (issue #18).

Usage: ``python -m bench.ws_memory [--idle N] [--stuck N] [--duration S] [--rate R]
[--dir DIR] [--json-out [PATH]]``.

Starts its own 3-node cluster with the default limits and opens ``--idle`` (500) observers on a
quiet store, which read but get nothing, and ``--stuck`` (50) observers on the busy store whose
clients never read a byte after the upgrade (a 4 KB receive buffer).  Then it appends ``--rate``
events/s of 1 KB each to the busy store for ``--duration`` (60) seconds and prints the gateway's
resident memory (VmRSS, from /proc) before the sockets, with them open, and after the run, with
how many stuck sockets the gateway dropped (``limits.webSocketSendTimeout``) and how many idle
ones are still open.  The clients spread over several loopback addresses, so the default
per-address limit (``limits.maxWebSocketsPerClient``, 100) admits them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.lib.cluster import BENCH_STORE, RunningCluster, temporary_cluster
from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from bench.lib.websockets import never_reading_websocket
from engine.client import GateClient

QUIET = "quiet"
PER_ADDRESS = 90  # below the default limit of 100 WebSockets per client address


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def address(n: int) -> str:
    """The loopback address of the n-th client: 90 to an address, from 127.0.0.2 on."""
    return f"127.0.0.{2 + n // PER_ADDRESS}"


async def open_idle(url: str, count: int) -> list[tuple[aiohttp.ClientSession, Any]]:
    sockets = []
    for n in range(count):
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address(n), 0)))
        sockets.append((http, await http.ws_connect(f"{url}/api/stores/{QUIET}/observe")))
    return sockets


async def flood(client: GateClient, rate: int, duration: float) -> int:
    """Append ``rate`` events/s (batches of 10, 1 KB each) for ``duration`` s; events sent."""
    pad = "x" * 1000
    sent = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < duration:
        due = int(elapsed * rate) - sent
        if due <= 0:
            await asyncio.sleep(0.01)
            continue
        batch = min(due, 10)
        events = [{"event_type": "t", "data": {"n": sent + k, "pad": pad}} for k in range(batch)]
        await client.append(BENCH_STORE, f"flood-{sent % 7}", events)
        sent += batch
    return sent


async def dropped(sock: socket.socket) -> bool:
    """Whether the server ended the connection (what the socket still holds is read first)."""
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(5):
            while await loop.sock_recv(sock, 1 << 20):
                pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def run(
    cluster: RunningCluster,
    idle: int,
    stuck: int,
    duration: float,
    rate: int,
    results: Results,
) -> None:
    pid = cluster.gateway_pid
    steal = StealWatch()
    steal.start()
    async with cluster.new_client() as client:
        await client.create_store(QUIET)
        before = rss_mb(pid)
        idle_sockets = await open_idle(cluster.url, idle)
        port = cluster.config.gateway.http.port
        stuck_sockets = [
            await never_reading_websocket(
                port, f"/api/stores/{BENCH_STORE}/observe", None, local=address(idle + n)
            )
            for n in range(stuck)
        ]
        opened = rss_mb(pid)
        samples = []
        flooding = asyncio.create_task(flood(client, rate, duration))
        while not flooding.done():
            await asyncio.sleep(min(10.0, duration / 6))
            samples.append(rss_mb(pid))
        sent = await flooding
        after = rss_mb(pid)
        steal.stop()
        gone = sum([await dropped(sock) for sock in stuck_sockets])
        still_open = sum(1 for _, ws in idle_sockets if not ws.closed)
        for sock in stuck_sockets:
            sock.close()
        for http, ws in idle_sockets:
            with contextlib.suppress(Exception):
                await ws.close()
            await http.close()
    figures = {
        "rss_before_mb": round(before, 1),
        "rss_open_mb": round(opened, 1),
        "rss_after_mb": round(after, 1),
        "events": sent,
        "stuck_dropped": gone,
        "idle_open": still_open,
    }
    results.add(f"{idle} idle + {stuck} never-reading, {duration:g} s", figures, steal.result)
    print(f"gateway VmRSS before the sockets: {before:.1f} MB")
    print(f"with {idle} idle + {stuck} never-reading WebSockets open: {opened:.1f} MB")
    print(
        f"after {duration:g} s of {rate} events/s ({sent} events, 1 KB each): {after:.1f} MB"
        f" (samples: {', '.join(f'{s:.1f}' for s in samples)})"
    )
    print(f"never-reading sockets dropped by the gateway: {gone}/{stuck}")
    print(f"idle sockets still open: {still_open}/{idle}")


async def main_async(args: argparse.Namespace, results: Results) -> None:
    async with temporary_cluster(args.dir) as cluster:
        await run(cluster, args.idle, args.stuck, args.duration, args.rate, results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_memory", description=__doc__)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--stuck", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--dir", help="where the temporary cluster lives (default: /tmp)")
    add_json_out(parser, "ws_memory")
    args = parser.parse_args()
    results = Results("ws_memory", args.json_out)
    asyncio.run(main_async(args, results))
    results.save()


if __name__ == "__main__":
    main()
