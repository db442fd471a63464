"""How a leader's dispatcher reads a real store for a persistent subscription: a one-stream
selector through the stream's index, any other narrow selector page by page with the event
loop free in between (a blocked leader sends no heartbeats and loses its term)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.node.delivery import Delivery
from engine.node.subscriptions import READ_PAGE, fill
from engine.protocol.definitions import Definition, normalize_definition
from engine.storage.event_store import EventStore

EVENTS = 20_000
STREAMS = 100
RARE = "light_deactivated:v1"  # one event in a thousand


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    """20,000 events over 100 streams, as 200 appends of 100 in 20 transactions (seeded)."""
    path: Path = tmp_path_factory.mktemp("fill") / "s.db"
    store = EventStore.create(path, config={}, created_epoch=0, applied_index=0)
    rng = random.Random(3)
    index = 0
    for _ in range(20):
        items = []
        for _ in range(10):
            index += 1
            stream = f"greenhouse-{rng.randrange(STREAMS)}"
            events = [
                {
                    "event_id": f"e{index}-{k}",
                    "event_type": RARE if rng.random() < 0.001 else "temperature_measured:v1",
                    "data": {"temperature": rng.randint(6, 35)},
                    "metadata": {},
                    "created_epoch": index,
                }
                for k in range(100)
            ]
            cmd = {"op": "append", "stream": stream, "expected_version": "any", "events": events}
            items.append((index, cmd))
        store.apply_batch(items)
    assert store.last_position == EVENTS
    yield store
    store.close()


def _delivery(**selector: Any) -> Delivery:
    stored = normalize_definition({**selector, "max_in_flight": 10})
    return Delivery(Definition.from_stored("sub", 1, stored), 0, lambda: 0.0)


def _delivered(delivery: Delivery) -> list[str]:
    """The event ids one consumer receives, acking every batch."""
    delivery.add_consumer(1)
    delivered: list[str] = []
    while batch := delivery.dispatch().get(1):
        delivered += [r["event_id"] for r in batch]
        delivery.ack(1, [r["event_id"] for r in batch])
    return delivered


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


async def test_a_one_stream_subscription_reads_the_stream_not_the_store(
    store: EventStore,
) -> None:
    smallest = min(store.list_streams(), key=lambda s: s["version"])["stream_id"]
    delivery = _delivery(type="by_stream", selector=f"${smallest}")
    pages = await fill(delivery, store, smallest)
    expected = store.read_stream(smallest, 0, EVENTS)["events"]
    assert 0 < len(expected) < READ_PAGE and pages == 1
    assert delivery.cursor == EVENTS
    assert _delivered(delivery) == _ids(expected)


async def test_a_narrow_selector_reads_every_page_with_the_loop_free_between(
    store: EventStore,
) -> None:
    delivery = _delivery(type="by_event_type", selector=RARE)
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    pages = await fill(delivery, store, None)
    ticking.cancel()
    assert pages == EVENTS // READ_PAGE
    assert turns >= pages  # the other task ran after every page
    expected = [e for e in store.read_all(0, EVENTS)["events"] if e["event_type"] == RARE]
    assert expected and _delivered(delivery) == _ids(expected)
    assert delivery.cursor == EVENTS
