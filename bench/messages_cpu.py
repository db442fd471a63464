"""gate-console's CPU with its Messages panel open while the cluster takes 5,000 events/s.

The default 3-node cluster (``cluster_config``: fsync always, store ``reg_gh``, the trace on
at its default ring) takes ``--rate`` events/s from a writer in a process of its own (paced
appends of ``--batch`` events from ``--tasks`` tasks, so this process's own work does not share
its core; it prints the rate it actually reached, which a loaded machine may keep below the
target).  A real ``gate-console --connect`` runs on a 120x36 pseudo-terminal, and its process's
CPU is read from /proc while the Messages panel is open (following ``/api/cluster/trace``, which
the gateway sums up past 50 messages a half second: "AppendEntries ×90/s, 50 entries"; the
report says whether the panel drew such rows) and while it is closed
(the Cluster panel, the console's start), in turns, ``--rounds`` of each, ``--seconds`` each,
after the panel shown has drawn.  Figures: the console's CPU in % of a core and in µs per
event written, medians of the rounds, and the panel's share (open minus closed); beside them
the gateway's and the nodes' CPU, which a watcher of the trace costs too.  Goal
(docs/CONSOLE.md, the console's CPU goal, as in ``console_latency``): under half a core with
the panel open.  Exit status 1 when it is missed.

    python -m bench.messages_cpu [--rate 5000] [--batch 50] [--tasks 16] [--rounds 3]
                                 [--seconds 10] [--json-out [PATH]]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as StopEvent
from pathlib import Path

from bench.lib.cluster import cluster_config, process_ids, start_cluster
from bench.lib.console_pty import ConsoleOnPty
from bench.lib.driver import sample_events
from bench.lib.machine import MACHINE, CpuMeter, Steal, StealWatch
from bench.lib.results import Results, add_json_out
from engine.client import GateClient, GateError

COLUMNS, ROWS = 120, 36
GOAL_CORES = 0.5  # docs/CONSOLE.md: the console's CPU goal, under half a core
STORE = "reg_gh"  # the console's store: its header counts these events
SUMMARY_ROW = "═".encode()  # the double-lined arrow of a summed-up row
CATCH_UP = 0.5  # seconds of appends the writer sends late, at most


# -- the writer: a process of its own ------------------------------------------------------------


def write(
    url: str, rate: float, batch: int, tasks: int, acked: Synchronized[int], stop: StopEvent
) -> None:
    """Append ``rate`` events/s in appends of ``batch``, paced, until ``stop`` is set; add each
    acknowledged append's events to ``acked``.  A late append is sent at once (up to ``tasks``
    in flight), but a backlog of more than :data:`CATCH_UP` seconds is let go: a phase that
    slowed the cluster down must not lend the next one its backlog."""
    asyncio.run(_write(url, rate, batch, tasks, acked, stop))


async def _write(
    url: str,
    rate: float,
    batch: int,
    tasks: int,
    acked: Synchronized[int],
    stop: StopEvent,
) -> None:
    pool = sample_events(25)
    started = time.monotonic()
    issued = 0  # appends due so far, shared by the tasks

    async def task(client: GateClient, worker: int) -> None:
        nonlocal issued, started
        while not stop.is_set():
            seq = issued
            issued += 1
            delay = started + seq * batch / rate - time.monotonic()
            if delay < -CATCH_UP:
                started -= delay + CATCH_UP  # the pace from now on, not the backlog
            elif delay > 0:
                await asyncio.sleep(delay)
            events = [pool[(seq * batch + k) % len(pool)] for k in range(batch)]
            try:
                await client.append(STORE, f"messages-cpu-{worker}", events, "any")
            except GateError:
                continue  # a slow moment of the cluster: not counted
            with acked.get_lock():
                acked.value += batch

    async with GateClient(url) as client:
        await asyncio.gather(*(task(client, w) for w in range(tasks)))


# -- the measurement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    panel: str  # "open" or "closed"
    seconds: float
    events: int
    cpu: float  # the console's CPU seconds
    cluster: dict[str, float]  # the cluster's processes' CPU seconds, by name
    steal: Steal

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cores(self) -> float:
        return self.cpu / self.seconds

    @property
    def us_per_event(self) -> float:
        return self.cpu / max(1, self.events) * 1e6

    @property
    def gateway_cores(self) -> float:
        return self.cluster.get("gateway", 0.0) / self.seconds

    @property
    def nodes_cores(self) -> float:
        nodes = sum(v for k, v in self.cluster.items() if k.startswith("node"))
        return nodes / self.seconds


def measure(
    console: ConsoleOnPty,
    meter: CpuMeter,
    acked: Synchronized[int],
    panel: str,
    seconds: float,
    shown: bool,
) -> Phase:
    """Show the panel (unless ``shown``), wait until it drew, then read the console's CPU for
    ``seconds``."""
    if not shown:
        key, marker = (b"7", b"Raft messages") if panel == "open" else (b"1", b"Timeline")
        console.forget()
        console.press(key)
        if not console.wait_for(marker, 15.0):
            raise RuntimeError(f"the console never showed {marker.decode()!r}")
    time.sleep(1.0)  # the switch's own redraw is not what is measured
    with StealWatch() as steal:
        cpu, events, t0 = console.cpu_seconds(), acked.value, time.monotonic()
        before = meter.sample()
        time.sleep(seconds)
        cpu, events = console.cpu_seconds() - cpu, acked.value - events
        cluster = CpuMeter.delta(before, meter.sample())
        elapsed = time.monotonic() - t0
    del cluster[MACHINE]
    return Phase(panel, elapsed, events, cpu, cluster, steal.result)


def report(phases: list[Phase], args: argparse.Namespace, summed: bool, results: Results) -> bool:
    def median(panel: str, figure: str) -> float:
        return statistics.median(getattr(p, figure) for p in phases if p.panel == panel)

    print(f"\nthe writer (a process of its own, {args.tasks} tasks, appends of {args.batch}) "
          f"aimed at {args.rate:,.0f} events/s; {args.rounds} rounds of {args.seconds:g} s per "
          f"panel, medians:")  # fmt: skip
    head = f"{'Messages panel':<16} {'events/s':>9} {'console CPU':>12} {'µs/event':>9}"
    print(f"  {head} {'gateway':>8} {'nodes':>7}  rounds (console CPU %)")
    for panel in ("closed", "open"):
        rounds = " ".join(f"{p.cores:.0%}" for p in phases if p.panel == panel)
        rate, cores, per = (median(panel, f) for f in ("rate", "cores", "us_per_event"))
        gateway, nodes = median(panel, "gateway_cores"), median(panel, "nodes_cores")
        print(f"  {panel:<16} {rate:>9,.0f} {cores:>11.1%} {per:>9.1f} {gateway:>8.0%} "
              f"{nodes:>7.0%}  {rounds}")  # fmt: skip
        worst = max((p.steal for p in phases if p.panel == panel), key=lambda s: s.worst)
        results.add(
            f"console, Messages panel {panel}",
            {"events_per_s": round(rate, 1), "console_cores": round(cores, 4),
             "console_us_per_event": round(per, 2), "target_events_per_s": args.rate,
             "gateway_cores": round(gateway, 3), "nodes_cores": round(nodes, 3)},
            worst,
        )  # fmt: skip
    share = median("open", "cores") - median("closed", "cores")
    cores = median("open", "cores")
    print(f"  the panel's share: {share:+.1%} of a core; summed-up rows drawn: " + (
        "yes" if summed else "no (under 50 messages a half second: the gateway listed each)"
    ))  # fmt: skip
    ok = cores < GOAL_CORES
    print(f"  goal (docs/CONSOLE.md): the console under {GOAL_CORES:.0%} of a core with the "
          f"panel open: {cores:.1%}, " + ("within the goal" if ok else "GOAL MISSED"))  # fmt: skip
    return ok


async def main_async(args: argparse.Namespace, results: Results) -> bool:
    parent = Path(tempfile.mkdtemp(prefix="gate-bench-messages-"))
    try:
        running = await start_cluster(parent, cluster_config(parent))
        try:
            print("gate-console's CPU, Messages panel open and closed: the default 3-node "
                  f"cluster (fsync always, trace on), a {COLUMNS}x{ROWS} pty")  # fmt: skip
            async with running.new_client() as client:
                pids = process_ids(await client.cluster(), running.url, running.gateway_pid)
            del pids["client"]  # this process only waits; the writer is its own
            meter = CpuMeter(pids)
            return await asyncio.to_thread(run, running.url, meter, args, results)
        finally:
            await running.embedded.stop()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def run(url: str, meter: CpuMeter, args: argparse.Namespace, results: Results) -> bool:
    spawn = multiprocessing.get_context("spawn")
    acked = spawn.Value("q", 0)
    stop = spawn.Event()
    writer = spawn.Process(
        target=write, args=(url, args.rate, args.batch, args.tasks, acked, stop), daemon=True
    )
    console = ConsoleOnPty(url, COLUMNS, ROWS)
    try:
        if not console.wait_for(b"Timeline", 60.0):
            print("the console did not start", file=sys.stderr)
            return False
        writer.start()
        time.sleep(2.0)  # the writer's warm-up: its connections, the cluster's first batches
        phases: list[Phase] = []
        summed, shown = False, "closed"  # the console starts on the Cluster panel
        for round_ in range(args.rounds):
            # Each round starts with the other panel: neither always runs first.
            for panel in ("closed", "open") if round_ % 2 == 0 else ("open", "closed"):
                phase = measure(console, meter, acked, panel, args.seconds, panel == shown)
                phases.append(phase)
                shown = panel
                if panel == "open":
                    summed = summed or console.showed(SUMMARY_ROW)
                print(f"  round {round_ + 1}, panel {panel:<6}: {phase.rate:>7,.0f} events/s, "
                      f"console {phase.cores:.1%} of a core, gateway {phase.gateway_cores:.0%}, "
                      f"nodes {phase.nodes_cores:.0%}")  # fmt: skip
        return report(phases, args, summed, results)
    finally:
        stop.set()
        writer.join(10)
        if writer.is_alive():
            writer.kill()
        console.end()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    add_json_out(parser, "messages_cpu")
    args = parser.parse_args()
    results = Results("messages_cpu", args.json_out)
    ok = asyncio.run(main_async(args, results))
    results.save()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
