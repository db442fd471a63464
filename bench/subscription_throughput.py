"""Persistent-subscription delivery throughput, with every batch acknowledged.

Usage: ``python -m bench.subscription_throughput [--events N] [--url URL] [--dir DIR]
[--json-out [PATH]]``.

Starts its own 3-node cluster unless ``--url`` is given, writes ``--events`` events to a fresh
stream (in 500-event appends), then for 1 and for 2 competing consumers defines a subscription
from the origin (``max_in_flight`` 500) and times how long the consumers take to receive and
acknowledge every event, how long until the committed checkpoint covers the last one, and the
CPU per delivered event of the client, gateway and nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid

from bench.lib.cluster import BENCH_STORE, process_ids, temporary_cluster
from bench.lib.machine import CpuMeter, StealWatch
from bench.lib.results import Results, add_json_out
from engine.cli_support import add_tls_arguments
from engine.client import GateClient
from engine.client.results import SubscriptionInfo
from engine.client.subscriptions import Consumer

STORE = BENCH_STORE
APPEND_BATCH = 500


async def drain(consumer: Consumer, received: set[str], total: int) -> None:
    """Receive and acknowledge batches until ``total`` distinct events were seen."""
    async for batch in consumer:
        ids = [e["event_id"] for e in batch]
        received.update(ids)
        await consumer.ack(ids)
        if len(received) >= total:
            return


async def measure(
    client: GateClient,
    meter: CpuMeter,
    stream: str,
    last: int,
    total: int,
    consumers: int,
    results: Results,
) -> str:
    """Deliver ``total`` events to ``consumers`` consumers of a new subscription; one line."""
    name = f"tp-{uuid.uuid4().hex[:8]}"
    await client.put_subscription(STORE, name, {"by_stream": f"${stream}"}, max_in_flight=500)
    received: set[str] = set()
    async with contextlib.AsyncExitStack() as stack:
        opened = [
            await stack.enter_async_context(client.consume(STORE, name)) for _ in range(consumers)
        ]
        steal = StealWatch()
        steal.start()
        cpu_before = meter.sample()
        start = time.perf_counter()
        tasks = [asyncio.create_task(drain(c, received, total)) for c in opened]
        while len(received) < total:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        delivered = time.perf_counter() - start
        for task in tasks:
            task.cancel()
        while True:
            shown: SubscriptionInfo = next(
                s for s in await client.list_subscriptions(STORE) if s["name"] == name
            )
            if (shown["checkpoint"] or 0) >= last:
                break
            await asyncio.sleep(0.01)
        checkpointed = time.perf_counter() - start
        cpu = CpuMeter.ours(CpuMeter.delta(cpu_before, meter.sample()))
        steal.stop()
    await client.delete_subscription(STORE, name)
    cpu_us = cpu / total * 1e6
    figures = {
        "events": total,
        "delivered_s": round(delivered, 3),
        "events_per_s": round(total / delivered, 1),
        "checkpointed_s": round(checkpointed, 3),
        "deliveries": shown["delivered"],
        "cpu_us_per_event": round(cpu_us, 1),
    }
    results.add(f"{consumers} consumer(s)", figures, steal.result)
    return (
        f"{consumers} consumer(s): {total:,} events delivered and acked in {delivered:.2f} s "
        f"= {total / delivered:,.0f} events/s; checkpoint at the last event after "
        f"{checkpointed:.2f} s ({shown['delivered']:,} deliveries); {cpu_us:,.0f} µs CPU per event"
    )


async def run(
    url: str,
    token: str | None,
    total: int,
    gateway_pid: int | None,
    results: Results,
    tls: dict[str, str] | None = None,
) -> None:
    tls = tls or {}
    client = GateClient(
        url, token=token, ca=tls.get("ca"), cert=tls.get("cert"), key=tls.get("key")
    )
    async with client:
        with contextlib.suppress(Exception):
            await client.create_store(STORE)
        meter = CpuMeter(process_ids(await client.cluster(), url, gateway_pid))
        stream = f"tp-{uuid.uuid4().hex[:8]}"
        last = 0
        for i in range(0, total, APPEND_BATCH):
            events = [
                {"event_type": "t:v1", "data": {"i": i + k, "pad": "x" * 100}}
                for k in range(min(APPEND_BATCH, total - i))
            ]
            last = (await client.append(STORE, stream, events))["position"]
        print(f"subscription throughput, {url}, {total:,} events of ~200 bytes, ack per batch")
        for consumers in (1, 2):
            print(await measure(client, meter, stream, last, total, consumers, results))


async def main_async(args: argparse.Namespace, results: Results) -> None:
    if args.url:
        tls = {k: v for k in ("ca", "cert", "key") if (v := getattr(args, k)) is not None}
        await run(args.url, args.token, args.events, args.gateway_pid, results, tls)
        return
    async with temporary_cluster(args.dir) as cluster:
        await run(cluster.url, None, args.events, cluster.gateway_pid, results)


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events to deliver")
    parser.add_argument("--url", help="an existing gateway instead of a cluster of our own")
    parser.add_argument("--token", default=os.environ.get("GATE_AUTH_TOKEN"))
    add_tls_arguments(parser)
    parser.add_argument("--gateway-pid", type=int, help="with --url: measure this process too")
    parser.add_argument("--dir", help="parent directory of the cluster's data (not tmpfs!)")
    add_json_out(parser, "subscription_throughput")
    args = parser.parse_args()
    results = Results("subscription_throughput", args.json_out)
    asyncio.run(main_async(args, results))
    results.save()


if __name__ == "__main__":
    main()
