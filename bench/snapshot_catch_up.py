"""Snapshot catch-up: how fast a wiped node gets the leader's stores, and what writes see meanwhile.

Usage: ``python -m bench.snapshot_catch_up [--megabytes M] [--compact-after N] [--writers W]
[--dir DIR] [--json-out [PATH]]`` (run from the repository root; ``--dir`` on a real disk, not a
tmpfs).

Starts a 3-node cluster with ``replication.compactAfter: N`` in a temporary directory, fills
store ``bench`` with about M MB of events (4 kB each, 5 to an append, and at least twice
compactAfter appends), waits until every node has compacted its log (the largest log any node
held during the fill, sampled every 0.2 s, and the size of each ``raft.db`` are printed), then
stops a follower, wipes its data and starts it again while writers keep appending single
events: the leader no longer holds the entries the empty node needs, so it sends its stores as a
snapshot (docs/ENGINE.md, "Compaction and snapshots").  Prints the snapshot's size and transfer
rate (from the leader's counters and node log), the time until the wiped node has applied
everything the leader had committed when it came back, and the writers' appends per second
before and during the catch-up.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.lib.cluster import BENCH_STORE, RunningCluster, bench_config, start_cluster, wait_for
from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out

EVENT_BYTES = 4000
BATCH = 5
_SENT = re.compile(r"snapshot sent to (\S+): .* in ([0-9.]+) s")


class Writers:
    """Single-event appends from ``count`` tasks, counted as they are acknowledged."""

    def __init__(self, cluster: RunningCluster, count: int) -> None:
        self.cluster = cluster
        self.count = count
        self.acked = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write(w)) for w in range(self.count)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def rate(self, seconds: float) -> float:
        """Appends acknowledged per second over the next ``seconds``."""
        before = self.acked
        await asyncio.sleep(seconds)
        return (self.acked - before) / seconds

    async def _write(self, w: int) -> None:
        async with self.cluster.new_client() as client:
            while True:
                event = {"event_type": "t:v1", "data": {"w": w, "n": self.acked}}
                await client.append(BENCH_STORE, f"live-{w}", [event])
                self.acked += 1


async def fill(cluster: RunningCluster, megabytes: float, appends: int) -> int:
    """Append about ``megabytes`` of events in at least ``appends`` appends; the events."""
    batches = max(appends, int(megabytes * 1e6 / (EVENT_BYTES * BATCH)))
    payload = "x" * (EVENT_BYTES - 100)
    async with cluster.new_client() as client:

        async def writer(k: int) -> None:
            for b in range(k, batches, 8):
                events = [
                    {"event_type": "t:v1", "data": {"b": b, "i": i, "pad": payload}}
                    for i in range(BATCH)
                ]
                await client.append(BENCH_STORE, f"fill-{k}", events)

        await asyncio.gather(*(writer(k) for k in range(8)))
    return batches * BATCH


async def node_json(cluster: RunningCluster, node_id: str, path: str) -> Any:
    return await cluster.node_get(node_id, path)


async def metric(cluster: RunningCluster, node_id: str, name: str) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(cluster.node_url(node_id) + "/metrics") as resp,
    ):
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise RuntimeError(f"no metric {name} on {node_id}")


class LogSampler:
    """The most entries any node's log held, polled from ``/status`` while it runs."""

    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.largest = 0
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> LogSampler:
        self._task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _poll(self) -> None:
        nodes = list(self.cluster.config.node_ids)
        while True:
            for node in nodes:
                span = (await node_json(self.cluster, node, "/status"))["log"]
                self.largest = max(self.largest, span["last_index"] - span["first_index"] + 1)
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, directory: Path, results: Results) -> None:
    raw = bench_config(directory, 3)
    raw["replication"]["compactAfter"] = args.compact_after
    cluster = await start_cluster(directory, raw)
    try:
        with StealWatch() as steal:
            with LogSampler(cluster) as sampler:
                events = await fill(cluster, args.megabytes, 2 * args.compact_after + 10)
            leader = await cluster.leader()
            commit = (await node_json(cluster, leader, "/status"))["commit_position"]
            nodes = list(cluster.config.node_ids)
            await wait_for(
                lambda: asyncio.gather(*(node_json(cluster, n, "/status") for n in nodes)),
                lambda all_: all(
                    s["applied_position"] >= commit and s["snapshot"]["index"] > 0 for s in all_
                ),
                timeout=120,
                what="every node compacted its log",
            )
            raft_db_mb = {
                n: round((cluster.config.node_data_dir(n) / "raft.db").stat().st_size / 1e6, 1)
                for n in nodes
            }
            victim = next(n for n in nodes if n != leader)
            writers = Writers(cluster, args.writers)
            writers.start()
            try:
                before = await writers.rate(2.0)
                sent_before = await metric(cluster, leader, "gate_node_snapshot_bytes_sent_total")
                async with cluster.new_client() as client:
                    await client.node_action(victim, "stop")
                    await wait_for(
                        client.cluster,
                        lambda v: (
                            next(n for n in v["nodes"] if n["node_id"] == victim)["state"]
                            in ("stopped", "exited")
                        ),
                        timeout=30,
                        what=f"{victim} stopped",
                    )
                    shutil.rmtree(cluster.config.node_data_dir(victim))
                    started = time.monotonic()
                    acked_at_start = writers.acked
                    await client.node_action(victim, "start")
                target = (await node_json(cluster, leader, "/status"))["commit_position"]
                await wait_for(
                    lambda: node_json(cluster, victim, "/status"),
                    lambda s: s["applied_position"] >= target,
                    timeout=600,
                    what=f"{victim} caught up",
                )
                caught_up_s = time.monotonic() - started
                during = (writers.acked - acked_at_start) / caught_up_s
            finally:
                await writers.stop()
            sent = await metric(cluster, leader, "gate_node_snapshot_bytes_sent_total")
            lines = (await node_json(cluster, leader, "/log?limit=1000"))["lines"]
            transfers = [
                float(m.group(2))
                for line in lines
                if (m := _SENT.search(line["text"])) and m.group(1) == victim
            ]
        snapshot_mb = (sent - sent_before) / 1e6
        transfer_s = transfers[-1] if transfers else float("nan")
        figures = {
            "events": events,
            "largest_log_entries": sampler.largest,
            "raft_db_mb_max": max(raft_db_mb.values()),
            "snapshot_mb": round(snapshot_mb, 1),
            "transfer_s": round(transfer_s, 2),
            "transfer_mb_per_s": round(snapshot_mb / transfer_s, 1) if transfers else None,
            "catch_up_s": round(caught_up_s, 2),
            "appends_per_s_before": round(before, 1),
            "appends_per_s_during": round(during, 1),
        }
        print(
            f"{events} events ({args.megabytes:g} MB asked), compactAfter {args.compact_after}\n"
            f"largest log on any node during the fill: {sampler.largest} entries; raft.db "
            f"{', '.join(f'{n} {mb} MB' for n, mb in raft_db_mb.items())}\n"
            f"snapshot to the wiped {victim}: {snapshot_mb:.1f} MB in {transfer_s:.2f} s "
            f"({figures['transfer_mb_per_s']} MB/s); caught up in {caught_up_s:.2f} s\n"
            f"single-event appends/s from {args.writers} writers: {before:.0f} before, "
            f"{during:.0f} while it caught up"
        )
        results.add(f"{args.megabytes:g} MB, {args.writers} writers", figures, steal.result)
    finally:
        await cluster.embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--compact-after", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--dir", help="parent directory of the cluster's data (not tmpfs!)")
    add_json_out(parser, "snapshot_catch_up")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="gate-snapshot-", dir=args.dir))
    results = Results("snapshot_catch_up", args.json_out)
    try:
        asyncio.run(run(args, directory, results))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    results.save()


if __name__ == "__main__":
    main()
