"""How a leader's subscription dispatcher reads a big store for a narrow subscription.

Usage: ``python -m bench.subscription_fill [--events N] [--streams N] [--dir DIR]``.

Builds one store (default 300,000 events in appends of 10 over 200 streams, one event in 2,000
of a rare type; seeded), then runs ``engine.node.subscriptions.fill`` from the origin for
a one-stream subscription and for a rare-event-type subscription, with another task on the loop
timing how long the loop is blocked at a time.  Prints the pages read, the time taken and the
longest block: a leader blocked for its election timeout (300 ms by default) loses its term.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def measure(store: EventStore, kind: str, selector: str) -> None:
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
    began = time.perf_counter()
    stream = definition.selector.stream_id
    pages = await fill(delivery, store, stream)
    took = time.perf_counter() - began
    running = False
    await ticking
    print(
        f"  {kind} {selector}: {pages} pages in {took * 1000:.0f} ms, "
        f"longest loop block {longest * 1000:.1f} ms, cursor at {delivery.cursor:,}"
    )


async def main(events: int, streams: int, parent: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        began = time.perf_counter()
        store = build_store(Path(tmp) / "bench.db", events, streams)
        built = time.perf_counter() - began
        try:
            print(f"store: {store.last_position:,} events, {streams} streams ({built:.1f} s)")
            await measure(store, "by_stream", "$greenhouse-7")
            await measure(store, "by_event_type", RARE)
        finally:
            store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--dir", help="parent directory of the store (not tmpfs!)")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.streams, args.dir))
