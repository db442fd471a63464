"""Append-to-observer latency: how long a committed event takes to reach a live observer.

Usage: ``python -m bench.observer_latency [--duration S] [--url URL [--ca PEM]] [--dir DIR]
[--tls] [--json-out [PATH]]``.  ``--tls`` runs the rates twice, on a cluster without TLS and then
on one with it (dev certificates in its temporary directory).

Starts its own 3-node cluster (fsync always, majority quorum) unless ``--url`` is given, opens
one WebSocket observer on a fresh stream, and appends at a steady rate — 200 events/s as single
events, then 2,000 events/s as 10-event batches — from an open-loop pacer (a slow append never
delays the next one).  For every event it measures the time from issuing the append to the
observer receiving it, and from the append's acknowledgement to the observer receiving it (the
part the observer path adds; negative when the observer is faster than the acknowledgement),
and prints p50 / p99 / max (nearest rank) with the acknowledgement latency for reference, the
CPU per event of the client, gateway and nodes, and the share of CPU time the host took
meanwhile (*steal*: on a shared VM, figures taken at more than a few percent measure the
neighbours).  Goal: p99 under 5 ms at 200 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.lib.cluster import BENCH_STORE, process_ids, temporary_cluster
from bench.lib.machine import CpuMeter, Steal, StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Figure, Results, add_json_out
from engine.cli_support import add_tls_arguments
from engine.client import GateClient

STORE = BENCH_STORE
RATES = ((200, 1), (2000, 10))  # (events per second, events per append)
NOISY_STEAL = 5.0  # percent of CPU time taken by the host above which a run says so
NOISY_BURST = 20.0  # the same, in the run's worst quarter of a second


@dataclass
class RunResult:
    rate: int
    batch: int
    sent: int
    seen: int
    delivery: list[float]  # seconds from issuing the append to the observer receiving
    after_ack: list[float]  # seconds from the append's acknowledgement to the observer receiving
    acks: list[float]  # seconds from issuing the append to its acknowledgement
    steal: float  # percent of the machine's CPU time the host took during the run
    burst: float  # the same, in the run's worst quarter of a second
    cpu_us_per_event: float  # CPU of the measured processes per event sent

    @property
    def scenario(self) -> str:
        return f"{self.rate} events/s in {self.batch}-event appends"

    def figures(self) -> dict[str, Figure]:
        """The printed figures, for a result record."""
        out: dict[str, Figure] = {"sent": self.sent, "seen": self.seen}
        for name, values in (
            ("delivery", self.delivery),
            ("after_ack", self.after_ack),
            ("ack", self.acks),
        ):
            for label, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
                out[f"{name} {label}_ms"] = round(percentile_ms(values, q), 3)
        out["cpu_us_per_event"] = round(self.cpu_us_per_event, 1)
        return out

    def lines(self) -> list[str]:
        def figures(values: list[float]) -> str:
            return (
                f"p50 {percentile_ms(values, 0.5):7.2f}  p99 {percentile_ms(values, 0.99):7.2f}"
                f"  max {percentile_ms(values, 1.0):7.2f} ms"
            )

        head = (
            f"{self.rate:,} events/s in {self.batch}-event appends, {self.seen}/{self.sent} seen,"
            f" CPU steal {self.steal:.1f}% (worst 0.25 s: {self.burst:.0f}%),"
            f" {self.cpu_us_per_event:,.0f} µs CPU per event"
        )
        if self.steal > NOISY_STEAL or self.burst > NOISY_BURST:
            head += " (noisy: the host's other tenants weigh on these figures)"
        return [
            head,
            f"  append issued -> observer      {figures(self.delivery)}",
            f"  append acked  -> observer      {figures(self.after_ack)} (< 0: before the ack)",
            f"  append issued -> acknowledged  {figures(self.acks)}",
        ]


async def measure(
    client: GateClient, meter: CpuMeter, rate: int, batch: int, duration: float
) -> RunResult:
    """Append at ``rate`` events/s for ``duration`` s while one observer receives them."""
    stream = f"lat-{uuid.uuid4().hex[:8]}"
    issued: dict[str, float] = {}
    received: dict[str, float] = {}
    acked: dict[str, float] = {}
    delivery: list[float] = []
    acks: list[float] = []
    live = asyncio.Event()
    total = int(rate * duration) // batch * batch

    async def observe() -> None:
        async for message in client.observe(STORE, {"by_stream": f"${stream}"}):
            now = time.perf_counter()
            if message["type"] == "live":
                live.set()
            elif message["type"] == "events":
                for event in message["events"]:
                    received[event["event_id"]] = now
                    delivery.append(now - issued[event["event_id"]])
                if len(delivery) >= total:
                    return

    async def append(events: list[dict[str, Any]]) -> None:
        start = time.perf_counter()
        for event in events:
            issued[str(event["event_id"])] = start
        await client.append(STORE, stream, events)
        done = time.perf_counter()
        acks.append(done - start)
        for event in events:
            acked[str(event["event_id"])] = done

    observer = asyncio.create_task(observe())
    await live.wait()
    steal = StealWatch()
    steal.start()
    cpu_before = meter.sample()
    appends: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    for i in range(total // batch):
        delay = t0 + i * batch / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        events = [
            {"event_id": str(uuid.uuid4()), "event_type": "t:v1", "data": {"i": i}}
            for _ in range(batch)
        ]
        task = asyncio.create_task(append(events))
        appends.add(task)
        task.add_done_callback(appends.discard)
    if appends:
        await asyncio.gather(*appends)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(observer, 10)
    observer.cancel()
    cpu = CpuMeter.ours(CpuMeter.delta(cpu_before, meter.sample()))
    steal.stop()
    after_ack = [received[i] - acked[i] for i in received if i in acked]
    return RunResult(
        rate,
        batch,
        total,
        len(delivery),
        delivery,
        after_ack,
        acks,
        steal.average,
        steal.worst,
        cpu / total * 1e6 if total else float("nan"),
    )


async def run(
    url: str,
    token: str | None,
    duration: float,
    gateway_pid: int | None,
    results: Results,
    tls: dict[str, str],
) -> None:
    async with GateClient(
        url, token=token, ca=tls.get("ca"), cert=tls.get("cert"), key=tls.get("key")
    ) as client:
        with contextlib.suppress(Exception):
            await client.create_store(STORE)
        meter = CpuMeter(process_ids(await client.cluster(), url, gateway_pid))
        what = f"{url}{' (TLS)' if client.tls else ''}"
        print(f"observer latency, {what}, {duration:g} s per rate, one observer, open-loop pacing")
        await measure(client, meter, 200, 1, 1.0)  # warm-up
        for rate, batch in RATES:
            result = await measure(client, meter, rate, batch, duration)
            print("\n".join(result.lines()))
            scenario = result.scenario + (" (TLS)" if client.tls else "")
            results.add(scenario, result.figures(), Steal(result.steal, result.burst))


async def main_async(args: argparse.Namespace, results: Results) -> None:
    if args.url:
        tls = {k: v for k in ("ca", "cert", "key") if (v := getattr(args, k)) is not None}
        await run(args.url, args.token, args.duration, args.gateway_pid, results, tls)
        return
    # --tls: the same rates on a cluster without TLS, then on one with it (same run).
    for tls_on in (False, True) if args.tls else (False,):
        async with temporary_cluster(args.dir, fsync=args.fsync, tls=tls_on) as cluster:
            print(f"storage.fsync: {args.fsync}")
            tls = cluster.embedded.tls_options
            await run(cluster.url, None, args.duration, cluster.gateway_pid, results, tls)


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--url", help="an existing gateway instead of a cluster of our own")
    parser.add_argument("--token", default=os.environ.get("GATE_AUTH_TOKEN"))
    add_tls_arguments(parser)
    parser.add_argument(
        "--tls", action="store_true", help="run without, then with TLS (dev certs); own cluster"
    )
    parser.add_argument("--gateway-pid", type=int, help="with --url: measure this process too")
    parser.add_argument("--dir", help="parent directory of the cluster's data (not tmpfs!)")
    parser.add_argument(
        "--fsync",
        choices=("always", "os"),
        default="always",
        help="storage.fsync of our own cluster (os shows the engine without the disk's fsyncs)",
    )
    add_json_out(parser, "observer_latency")
    args = parser.parse_args()
    results = Results("observer_latency", args.json_out)
    asyncio.run(main_async(args, results))
    results.save()


if __name__ == "__main__":
    main()
