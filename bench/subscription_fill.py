"""How a leader's subscription dispatcher reads a big store for a narrow subscription.

Usage: ``python -m bench.subscription_fill [--events N] [--streams N] [--dir DIR]
[--json-out [PATH]]``.

Builds one store (default 300,000 events in appends of 10 over 200 streams, one event in 2,000
of a rare type; seeded), then runs ``engine.node.subscriptions.fill`` from the origin for
a one-stream subscription and for a rare-event-type subscription, with another task on the loop
timing how long the loop is blocked at a time.  Prints the pages read, the time and CPU taken
and the longest block: a leader blocked for its election timeout (300 ms by default) loses its term.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from engine.node.delivery import Delivery
from engine.node.subscriptions import fill
from engine.protocol.definitions import Definition, normalize_definition
from engine.storage.event_store import EventStore

RARE = "light_deactivated:v1"


def build_store(path: Path, events: int, streams: int) -> EventStore:
    """A store of ``events`` events in 10-event appends, 100 appends per transaction."""
    store = EventStore.create(path, config={}, created_epoch=0, applied_index=0)
    rng = random.Random(1)
    index = 0
    while store.last_position < events:
        items: list[tuple[int, dict[str, Any]]] = []
        for _ in range(100):
            index += 1
            batch = [
                {
                    "event_id": f"e{index}-{k}",
                    "event_type": RARE if rng.random() < 0.0005 else "temperature_measured:v1",
                    "data": {"temperature": rng.randint(6, 35)},
                    "metadata": {"correlation_id": f"c{index}"},
                    "created_epoch": index,
                }
                for k in range(10)
            ]
            stream = f"greenhouse-{rng.randrange(streams)}"
            cmd = {"op": "append", "stream": stream, "expected_version": "any", "events": batch}
            items.append((index, cmd))
        failed = [r["error"] for r in store.apply_batch(items) if "error" in r]
        if failed:
            raise SystemExit(f"the store refused an append: {failed[0]}")
    return store


async def measure(store: EventStore, kind: str, selector: str, results: Results) -> None:
    """One fill from the origin, and the longest stretch the loop was blocked meanwhile."""
    definition = Definition.from_stored(
        "bench", 1, normalize_definition({"type": kind, "selector": selector})
    )
    delivery = Delivery(definition, 0, time.monotonic)
    longest = 0.0
    running = True

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    stream = definition.selector.stream_id
    with StealWatch() as steal:
        began, cpu_start = time.perf_counter(), time.process_time()
        pages = await fill(delivery, store, stream)
        took, cpu = time.perf_counter() - began, time.process_time() - cpu_start
    running = False
    await ticking
    figures = {
        "events_in_store": store.last_position,
        "pages": pages,
        "took_ms": round(took * 1000, 1),
        "cpu_ms": round(cpu * 1000, 1),
        "longest_block_ms": round(longest * 1000, 2),
        "cursor": delivery.cursor,
    }
    results.add(f"{kind} {selector}", figures, steal.result)
    print(
        f"  {kind} {selector}: {pages} pages in {took * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU), "
        f"longest loop block {longest * 1000:.1f} ms, cursor at {delivery.cursor:,}"
    )


async def run(events: int, streams: int, parent: str | None, results: Results) -> None:
    """Build the store under ``parent``, then time both fills."""
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        began = time.perf_counter()
        store = build_store(Path(tmp) / "bench.db", events, streams)
        built = time.perf_counter() - began
        try:
            print(f"store: {store.last_position:,} events, {streams} streams ({built:.1f} s)")
            await measure(store, "by_stream", "$greenhouse-7", results)
            await measure(store, "by_event_type", RARE, results)
        finally:
            store.close()


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--dir", help="parent directory of the store (not tmpfs!)")
    add_json_out(parser, "subscription_fill")
    args = parser.parse_args()
    results = Results("subscription_fill", args.json_out)
    asyncio.run(run(args.events, args.streams, args.dir, results))
    results.save()


if __name__ == "__main__":
    main()
