"""What the Raft message trace costs (docs/API.md, "Message trace").

1. Append throughput with tracing off (``replication.traceMessages: 0``), on with nobody
   watching, and on with a viewer reading ``/api/cluster/trace`` (its defaults: 500 ms
   intervals, 50 messages listed, past that summed up), in one run.  Two clusters run side by
   side, off and on, and the three phases take turns (each round starting with the next) for
   ``--rounds`` rounds of ``--seconds`` each, so the machine's other load falls on all three
   alike; the figures are the medians.  On a shared machine they move by ±20 % from round to
   round, more than the trace costs, so it also prints the one figure load does not move: the
   CPU of recording a message times the messages recorded per event, against the CPU per event.
   The load is append_bench's scenario A (16 tasks, one event per append): the most Raft
   messages per event.  Goal: on, nobody watching, within 3 % of off.
2. gate-console's CPU with its Messages panel open, on a real pseudo-terminal (120x36),
   attached to the tracing cluster while it takes writes as fast as it can (append_bench's
   scenario B, 4 tasks of 100-event appends).  Goal: under half a core, as console_latency's.
3. The gateway's and each node's CPU with one watcher of ``/api/cluster/inside`` (each node's
   inside, asked ten times a second; docs/API.md, "Nodes' inside") against nobody watching, on
   the idle tracing cluster, ``--inside-seconds`` each, what the Cluster panel adds.

    python -m bench.trace_cost [--rounds 3] [--seconds 6] [--console-seconds 10]
                               [--inside-seconds 10] [--json-out [PATH]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.lib.cluster import (
    BENCH_STORE,
    GateTarget,
    RunningCluster,
    bench_config,
    process_ids,
    start_cluster,
)
from bench.lib.console_pty import ConsoleOnPty
from bench.lib.driver import SCENARIOS, ScenarioResult, run_scenario
from bench.lib.machine import MACHINE, CpuMeter, StealWatch
from bench.lib.results import Results, add_json_out
from engine.client import GateClient
from engine.node.trace import MessageTrace
from engine.protocol.errors import GateError
from engine.replication.messages import AppendRequest, AppendResponse, Entry, Message

_ROOT = Path(__file__).resolve().parents[1]
PHASES = ("off", "on, nobody watching", "on, a viewer")
COLUMNS, ROWS = 120, 36


@contextlib.asynccontextmanager
async def cluster(parent: Path, name: str, trace: int) -> AsyncIterator[RunningCluster]:
    directory = parent / name
    directory.mkdir()
    raw = bench_config(directory)
    raw["replication"]["traceMessages"] = trace
    raw["stores"] = [BENCH_STORE, "reg_gh"]  # reg_gh: the console's default store
    running = await start_cluster(directory, raw)
    try:
        yield running
    finally:
        await running.embedded.stop()


def recording_cost(count: int = 200_000) -> float:
    """µs of CPU to record one message, for a leader's usual mix: appends of one entry and
    their answers, in batches of four (two followers)."""
    trace = MessageTrace("node1", 4096)
    entry = (Entry(1, 1, b"{}"),)
    batch: list[Message] = [
        AppendRequest(1, "node1", "node2", 0, 0, entry, 0),
        AppendRequest(1, "node1", "node3", 0, 0, entry, 0),
        AppendResponse(1, "node2", "node1", True, 1),
        AppendResponse(1, "node3", "node1", True, 1),
    ]
    start = time.process_time()
    for _ in range(count // len(batch)):
        trace.sent(batch)
    return (time.process_time() - start) / count * 1e6


async def messages_in(running: RunningCluster) -> int:
    """Raft messages the nodes received so far (each was also sent: recorded twice)."""
    total = 0
    async with aiohttp.ClientSession() as http:
        for node in running.node_ids:
            async with http.get(running.node_url(node) + "/metrics") as resp:
                for line in (await resp.text()).splitlines():
                    if line.startswith("gate_node_raft_messages_in_total"):
                        total += int(float(line.split()[-1]))
    return total


class Viewer:
    """A client of /api/cluster/trace that reads everything, counting what it gets."""

    def __init__(self, client: GateClient) -> None:
        self.client = client
        self.batches = self.lines = self.summaries = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for batch in self.client.trace(keep_trying=True):
            self.batches += 1
            self.lines += len(batch["lines"])
            self.summaries += sum(line["kind"] == "summary" for line in batch["lines"])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def throughput(
    off: RunningCluster, on: RunningCluster, rounds: int, seconds: float, results: Results
) -> bool:
    scenario = SCENARIOS[0]
    runs: dict[str, list[ScenarioResult]] = {phase: [] for phase in PHASES}
    viewed = Viewer(on.new_client())
    async with off.new_client() as c_off, on.new_client() as c_on, viewed.client:
        targets = {"off": GateTarget(c_off, BENCH_STORE, 1), "on": GateTarget(c_on, BENCH_STORE, 2)}
        meters = {
            "off": CpuMeter(process_ids(await c_off.cluster(), off.url, off.gateway_pid)),
            "on": CpuMeter(process_ids(await c_on.cluster(), on.url, on.gateway_pid)),
        }
        for key in ("off", "on"):  # warm-up
            await run_scenario(
                scenario, 2.0, targets[key].request_for(scenario, "warmup"), meters[key],
                expected_errors=(GateError,),
            )  # fmt: skip
        received = 0
        for round_ in range(rounds):
            # Each round starts with another phase: none always runs first or last.
            for phase in PHASES[round_ % 3 :] + PHASES[: round_ % 3]:
                key = "off" if phase == "off" else "on"
                before = await messages_in(on)
                if phase == "on, a viewer":
                    viewed.start()
                    await asyncio.sleep(0.5)  # connected, the hub asking the nodes
                result = await run_scenario(
                    scenario, seconds, targets[key].request_for(scenario, "run"), meters[key],
                    expected_errors=(GateError,),
                )  # fmt: skip
                if phase == "on, a viewer":
                    await viewed.stop()
                if phase == "on, nobody watching":
                    received += await messages_in(on) - before
                runs[phase].append(result)
    base = statistics.median(r.events / r.elapsed for r in runs["off"])
    print(f"\nappend throughput, scenario A ({scenario.workers} tasks, 1 event per append), "
          f"{rounds} rounds of {seconds:g} s, medians:")  # fmt: skip
    print(f"  {'phase':<22} {'events/s':>10} {'vs off':>8} {'CPU µs/event':>13}  rounds")
    for phase in PHASES:
        rates = [r.events / r.elapsed for r in runs[phase]]
        rate = statistics.median(rates)
        cpu = statistics.median(r.cpu_us_per_event for r in runs[phase])
        shown = " ".join(f"{x:,.0f}" for x in rates)
        print(f"  {phase:<22} {rate:>10,.0f} {rate / base - 1:>+8.1%} {cpu:>13,.0f}  {shown}")
        results.add(
            f"appends, trace {phase}",
            {"events_per_s": round(rate, 1), "vs_off": round(rate / base - 1, 4),
             "cpu_us_per_event": round(cpu, 1)},
            max((r.steal for r in runs[phase]), key=lambda s: s.worst),
        )  # fmt: skip
    print(f"  the viewer got {viewed.batches} batches, {viewed.lines} lines "
          f"({viewed.summaries} summaries)")  # fmt: skip
    quiet = runs["on, nobody watching"]
    per_message = recording_cost()
    per_event = 2 * received / sum(r.events for r in quiet)
    share = per_message * per_event / statistics.median(r.cpu_us_per_event for r in quiet)
    print(f"  recording one message: {per_message:.2f} µs of CPU; {per_event:.1f} messages "
          f"recorded per event (sent and received, all nodes) = {per_message * per_event:.1f} "
          f"µs per event, {share:.2%} of the cluster's CPU per event (goal ≤ 3 %)")  # fmt: skip
    results.add(
        "recording, nobody watching",
        {"us_per_message": round(per_message, 3), "messages_per_event": round(per_event, 2),
         "share_of_cpu": round(share, 4)},
        max((r.steal for r in quiet), key=lambda s: s.worst),
    )  # fmt: skip
    return share <= 0.03


async def console_cpu(on: RunningCluster, seconds: float, results: Results) -> bool:
    console = ConsoleOnPty(on.url, COLUMNS, ROWS)
    try:
        if not await asyncio.to_thread(console.wait_for, b"Timeline", 30.0):
            print("the console did not start", file=sys.stderr)
            return False
        console.press(b"7")
        if not await asyncio.to_thread(console.wait_for, b"Raft messages", 10.0):
            print("the Messages panel did not show", file=sys.stderr)
            return False
        scenario = SCENARIOS[1]
        async with on.new_client() as client:
            target = GateTarget(client, BENCH_STORE, 3)
            meter = CpuMeter(process_ids(await client.cluster(), on.url, on.gateway_pid))
            cpu_start = console.cpu_seconds()
            result = await run_scenario(
                scenario, seconds, target.request_for(scenario, "console"), meter,
                expected_errors=(GateError,),
            )  # fmt: skip
            cores = (console.cpu_seconds() - cpu_start) / result.elapsed
        rate = result.events / result.elapsed
        print(f"\ngate-console, Messages panel open ({COLUMNS}x{ROWS}), the cluster taking "
              f"{rate:,.0f} events/s ({result.requests / result.elapsed:,.0f} appends/s of "
              f"{scenario.batch}) for {seconds:g} s:")  # fmt: skip
        print(f"  console CPU {cores:.2f} cores (goal < 0.5)")
        results.add(
            "console, Messages panel open",
            {"events_per_s": round(rate, 1), "console_cores": round(cores, 3)},
            result.steal,
        )
        return cores < 0.5
    finally:
        await asyncio.to_thread(console.end)


async def inside_cpu(on: RunningCluster, seconds: float, results: Results) -> None:
    async with on.new_client() as client:
        meter = CpuMeter(process_ids(await client.cluster(), on.url, on.gateway_pid))
        steal = StealWatch()

        async def cores() -> dict[str, float]:
            before = meter.sample()
            await asyncio.sleep(seconds)
            used = CpuMeter.delta(before, meter.sample())
            return {name: sec / seconds for name, sec in used.items()}

        steal.start()
        quiet = await cores()
        messages = 0

        async def watch() -> None:
            nonlocal messages
            async for _ in client.inside(keep_trying=True):
                messages += 1

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.5)  # connected, the hub asking the nodes
        counted = messages
        watched = await cores()
        counted = messages - counted
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        steal.stop()
    print(f"\nthe nodes' inside (/api/cluster/inside), the cluster idle, {seconds:g} s each: "
          f"the watcher got {counted / seconds:.1f} messages/s")  # fmt: skip
    print(f"  {'process':<22} {'nobody watching':>16} {'one watcher':>12} {'added':>8}  (cores)")
    names = [n for n in watched if n not in ("client", MACHINE)]
    for name in names:
        added = watched[name] - quiet.get(name, 0.0)
        print(f"  {name:<22} {quiet.get(name, 0.0):>16.3f} {watched[name]:>12.3f} {added:>+8.3f}")
    nodes = [n for n in names if n != "gateway"]
    results.add(
        "inside, one watcher",
        {"messages_per_s": round(counted / seconds, 1),
         "gateway_cores_added": round(watched["gateway"] - quiet["gateway"], 4),
         "node_cores_added_max": round(max(watched[n] - quiet[n] for n in nodes), 4)},
        steal.result,
    )  # fmt: skip


async def main_async(args: argparse.Namespace, results: Results) -> bool:
    parent = Path(tempfile.mkdtemp(prefix="gate-bench-trace-"))
    try:
        async with cluster(parent, "off", 0) as off, cluster(parent, "on", 4096) as on:
            print("Gate message trace cost: two 3-node clusters (fsync always, majority), "
                  "replication.traceMessages 0 and 4096")  # fmt: skip
            ok = await throughput(off, on, args.rounds, args.seconds, results)
            ok = await console_cpu(on, args.console_seconds, results) and ok
            await inside_cpu(on, args.inside_seconds, results)
        return ok
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--console-seconds", type=float, default=10.0)
    parser.add_argument("--inside-seconds", type=float, default=10.0)
    add_json_out(parser, "trace_cost")
    args = parser.parse_args()
    results = Results("trace_cost", args.json_out)
    ok = asyncio.run(main_async(args, results))
    results.save()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
