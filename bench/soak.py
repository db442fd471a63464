"""Soak: a cluster under steady writers, an observer and a subscription, sampled for memory,
file descriptors and disk.

Usage: ``python -m bench.soak [--minutes M] [--rate R] [--writers W] [--sample S]
[--compact-after N] [--fsync always|os] [--dir DIR] [--keep] [--json-out [PATH]]``
(run from the repository root).

Starts its own 3-node cluster (store ``bench``) in a temporary directory under ``--dir`` (not a
tmpfs), then for ``--minutes`` runs ``--writers`` paced writers appending single ~300-byte events
at ``--rate`` events/s in all (each to its own stream), one WebSocket observer of every event and
one persistent subscription of every event whose consumer acknowledges each batch.  Every
``--sample`` seconds it prints the events acknowledged, the resident memory (RSS) and open file
descriptors of the gateway, each node and this process, each node's data directory
(``raft.db``, ``stores/``, the rest) and log span.  At the end: the rate achieved, each process's
RSS slope in MB/h (least squares over the second half of the samples, so start-up and the
filling of caches do not count), its fds (first, last, max), each node's bytes on disk per event
against its stores' own, the longest log span, and how far the observer and the subscription
lag behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.lib.cluster import BENCH_STORE, RunningCluster, cluster_config, start_cluster
from bench.lib.machine import StealWatch
from bench.lib.results import Figure, Results, add_json_out
from engine.client import GateClient, GateError

STORE = BENCH_STORE
EVENT_TYPE = "soak_measured:v1"
PADDING = 200  # characters of filler in each event's data: ~300 bytes per event in all


def _log(line: str) -> None:
    print(line, flush=True)


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid``; OSError once it is gone."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int) -> int:
    """How many file descriptors process ``pid`` holds open; OSError once it is gone."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def file_bytes(path: Path) -> int:
    """The size of file ``path`` (0 when it does not exist)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a WAL or snapshot file may vanish meanwhile
                total += (Path(root) / name).stat().st_size
    return total


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of ``(seconds, value)`` points, per hour (0 for fewer than 2)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600.0


@dataclass
class Sample:
    """What one sampling tick saw."""

    at: float  # seconds since the load started
    acked: int
    rss: dict[str, int]  # process name -> bytes
    fds: dict[str, int]
    disk: dict[str, dict[str, int]]  # node -> {"raft", "stores", "other"} bytes
    log_span: dict[str, int]  # node -> entries in its log


@dataclass
class Load:
    """The writers, the observer and the subscription's consumer, and what they counted."""

    acked: int = 0
    observed: int = 0
    consumed: int = 0
    last_position: int = 0  # the highest position acknowledged to a writer
    errors: Counter[str] = field(default_factory=Counter)


async def writer(
    client: GateClient, load: Load, index: int, interval: float, start: float, end: float
) -> None:
    """Append one event every ``interval`` seconds (catching up when late) until ``end``."""
    padding = "x" * PADDING
    stream = f"soak-{index}"
    sent = 0
    while True:
        due = start + sent * interval
        if due >= end or time.monotonic() >= end:  # a writer behind its schedule stops too
            return
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": EVENT_TYPE,
            "data": {"writer": index, "seq": sent, "reading": 21.5, "padding": padding},
            "metadata": {"correlation_id": f"soak-{index}-{sent}"},
        }
        sent += 1
        try:
            result = await client.append(STORE, stream, [event])
        except GateError as exc:
            load.errors[exc.code] += 1
            continue
        load.acked += 1
        load.last_position = max(load.last_position, int(result["position"]))


async def observer(client: GateClient, load: Load) -> None:
    """Count every event the observer of the whole store receives."""
    async for message in client.observe(STORE, keep_trying=True):
        if message["type"] == "events":
            load.observed += len(message["events"])


async def consumer(client: GateClient, load: Load, name: str) -> None:
    """Receive and acknowledge every batch of the subscription."""
    async with client.consume(STORE, name, keep_trying=True) as consumer:
        async for batch in consumer:
            load.consumed += len(batch)
            await consumer.ack([e["event_id"] for e in batch])


class Sampler:
    """Reads the processes' memory and fds, the nodes' data directories and log spans."""

    def __init__(self, cluster: RunningCluster, pids: dict[str, int]) -> None:
        self.cluster = cluster
        self.pids = pids
        self.nodes = [n for n in pids if n.startswith("node")]

    async def take(self, at: float, acked: int) -> Sample:
        rss: dict[str, int] = {}
        fds: dict[str, int] = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                rss[name] = rss_bytes(pid)
                fds[name] = open_fds(pid)
        disk: dict[str, dict[str, int]] = {}
        spans: dict[str, int] = {}
        for node in self.nodes:
            node_dir = self.cluster.config.node_data_dir(node)
            raft = sum(file_bytes(node_dir / f"raft.db{suffix}") for suffix in ("", "-wal", "-shm"))
            stores = tree_bytes(node_dir / "stores")
            disk[node] = {
                "raft": raft,
                "stores": stores,
                "other": tree_bytes(node_dir) - raft - stores,
            }
            with contextlib.suppress(Exception):  # a busy node may not answer in time
                log = (await self.cluster.node_get(node, "/status"))["log"]
                spans[node] = int(log["last_index"]) - int(log["first_index"]) + 1
        return Sample(at, acked, rss, fds, disk, spans)


def _mb(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def print_sample(s: Sample, load: Load) -> None:
    rss = " ".join(f"{name} {_mb(v)}" for name, v in s.rss.items())
    fds = " ".join(f"{name} {v}" for name, v in s.fds.items())
    disk = " ".join(
        f"{node} {_mb(sum(d.values()))} (raft {_mb(d['raft'])})" for node, d in s.disk.items()
    )
    spans = " ".join(f"{node} {v:,}" for node, v in s.log_span.items())
    _log(
        f"[{s.at / 60:6.1f} min] acked {s.acked:,} observed {load.observed:,}"
        f" consumed {load.consumed:,} | RSS MB: {rss} | fds: {fds} | disk MB: {disk}"
        f" | log: {spans}"
    )


def summarize(samples: list[Sample], load: Load, elapsed: float, rate: float) -> dict[str, Figure]:
    """The figures of the run, printed as they are computed."""
    figures: dict[str, Figure] = {
        "minutes": round(elapsed / 60, 2),
        "target_events_per_s": rate,
        "events_per_s": round(load.acked / elapsed, 1),
        "acked": load.acked,
        "errors": sum(load.errors.values()),
        "observer_lag": load.acked - load.observed,
        "subscription_lag": load.acked - load.consumed,
    }
    _log("")
    _log(
        f"rate: {load.acked:,} events acknowledged in {elapsed / 60:.1f} min ="
        f" {load.acked / elapsed:,.1f} events/s (target {rate:g}); errors {dict(load.errors)}"
    )
    _log(
        f"observer received {load.observed:,}, subscription consumed {load.consumed:,}"
        f" (of {load.acked:,})"
    )
    second_half = [s for s in samples if s.at >= samples[-1].at / 2]
    _log("process        RSS first   RSS last  slope (2nd half)   fds first/last/max")
    for name in samples[-1].rss:
        points = [(s.at, s.rss[name] / 1e6) for s in second_half if name in s.rss]
        slope = slope_per_hour(points)
        fds = [s.fds[name] for s in samples if name in s.fds]
        first = next(s.rss[name] for s in samples if name in s.rss)
        _log(
            f"{name:<12} {_mb(first):>9} MB {_mb(samples[-1].rss[name]):>7} MB"
            f" {slope:>+11.1f} MB/h   {fds[0]}/{fds[-1]}/{max(fds)}"
        )
        figures[f"rss_mb {name}"] = round(samples[-1].rss[name] / 1e6, 1)
        figures[f"rss_slope_mb_per_h {name}"] = round(slope, 2)
        figures[f"fds {name}"] = fds[-1]
        figures[f"fds_max {name}"] = max(fds)
    last = samples[-1]
    _log("node     raft.db MB  stores MB  other MB  bytes/event (all)  (stores)  max log span")
    for node, d in last.disk.items():
        total = sum(d.values())
        per_event = total / last.acked if last.acked else float("nan")
        stores_per_event = d["stores"] / last.acked if last.acked else float("nan")
        span = max((s.log_span.get(node, 0) for s in samples), default=0)
        _log(
            f"{node:<8} {_mb(d['raft']):>10} {_mb(d['stores']):>10} {_mb(d['other']):>9}"
            f" {per_event:>18,.0f} {stores_per_event:>9,.0f} {span:>13,}"
        )
        figures[f"raft_mb {node}"] = round(d["raft"] / 1e6, 1)
        figures[f"stores_mb {node}"] = round(d["stores"] / 1e6, 1)
        figures[f"bytes_per_event {node}"] = round(per_event, 1)
        figures[f"store_bytes_per_event {node}"] = round(stores_per_event, 1)
        figures[f"max_log_span {node}"] = span
    return figures


async def soak(directory: Path, args: argparse.Namespace, results: Results) -> None:
    """Run the soak in ``directory`` and record its figures."""
    raw = cluster_config(
        directory,
        3,
        stores=(STORE,),
        extra={
            "storage": {"dataDir": str(directory / "data"), "fsync": args.fsync},
            "replication": {"writeQuorum": "majority", "compactAfter": args.compact_after},
        },
    )
    cluster = await start_cluster(directory, raw)
    try:
        async with contextlib.AsyncExitStack() as stack:
            writers = await stack.enter_async_context(cluster.new_client())
            readers = await stack.enter_async_context(cluster.new_client())
            view = await writers.cluster()
            pids = {"gateway": cluster.gateway_pid}
            pids |= {n["node_id"]: pid for n in view["nodes"] if (pid := n["pid"]) is not None}
            pids["client"] = os.getpid()
            sampler = Sampler(cluster, pids)
            name = f"soak-{uuid.uuid4().hex[:8]}"
            await readers.put_subscription(STORE, name, max_in_flight=500)
            load = Load()
            background = [
                asyncio.create_task(observer(readers, load)),
                asyncio.create_task(consumer(readers, load, name)),
            ]
            _log(
                f"soak: {args.minutes:g} min at {args.rate:g} events/s, {args.writers} writers,"
                f" one observer and one subscription of every event, compactAfter"
                f" {args.compact_after}, fsync {args.fsync}, load average"
                f" {', '.join(f'{v:.2f}' for v in os.getloadavg())}; data in {directory}"
            )
            samples: list[Sample] = []
            start = time.monotonic()
            end = start + args.minutes * 60
            interval = args.writers / args.rate
            tasks = [
                asyncio.create_task(
                    writer(writers, load, i, interval, start + i * interval / args.writers, end)
                )
                for i in range(args.writers)
            ]
            with StealWatch() as steal:
                while not all(t.done() for t in tasks):
                    await asyncio.wait(tasks, timeout=args.sample)
                    sample = await sampler.take(time.monotonic() - start, load.acked)
                    samples.append(sample)
                    print_sample(sample, load)
                elapsed = time.monotonic() - start
                for task in tasks:
                    task.result()  # a writer's unexpected error ends the run here
            # Let the observer and the subscription catch up, briefly, before their lag counts.
            for _ in range(100):
                if min(load.observed, load.consumed) >= load.acked:
                    break
                await asyncio.sleep(0.1)
            for task in background:
                task.cancel()
            figures = summarize(samples, load, elapsed, args.rate)
            figures["load_1min"] = round(os.getloadavg()[0], 2)
            _log(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
            results.add(f"{args.rate:g} events/s, {args.writers} writers", figures, steal.result)
            with contextlib.suppress(GateError):
                await readers.delete_subscription(STORE, name)
    finally:
        await cluster.embedded.stop()


def main() -> None:
    """Parse the arguments and run the soak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=300.0, help="events/s, all writers together")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--compact-after", type=int, default=10_000, help="compactAfter")
    parser.add_argument("--fsync", choices=("always", "os"), default="always")
    parser.add_argument("--dir", help="parent directory of the cluster's data (not tmpfs!)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster directory")
    add_json_out(parser, "soak")
    args = parser.parse_args()
    if args.rate <= 0 or args.writers < 1 or args.sample <= 0 or args.minutes <= 0:
        parser.error("--rate, --writers, --sample and --minutes must be positive")
    directory = Path(tempfile.mkdtemp(prefix="gate-soak-", dir=args.dir))
    results = Results("soak", args.json_out)
    try:
        asyncio.run(soak(directory, args, results))
    finally:
        if args.keep:
            _log(f"cluster directory: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    results.save()


if __name__ == "__main__":
    main()
