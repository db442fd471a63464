"""The gateway's observer hub against an in-memory store: fan-out, bounded buffers, catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from engine.gateway.observers import Observer, ObserverHub
from engine.protocol.errors import GateError
from engine.protocol.selectors import parse_selector
from tests.subscriptions.fake_store import FakeStore


class Sink:
    """A client: records what it is sent; while ``gate`` is clear, it does not read (slow)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.blocked = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if not self.gate.is_set():
            self.blocked.set()
            await self.gate.wait()
        self.messages.append(message)

    def positions(self) -> list[int]:
        return [e["position"] for m in self.messages if m["type"] == "events" for e in m["events"]]

    def dropped(self) -> int:
        return sum(m["count"] for m in self.messages if m["type"] == "dropped")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def observing(
    hub: ObserverHub, observer: Observer, sink: Sink, from_position: int | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(hub.observe("reg_gh", observer, from_position, sink.send))
    try:
        await until(lambda: any(m["type"] == "live" for m in sink.messages) or task.done())
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def everything(buffer: int = 10_000) -> Observer:
    return Observer(parse_selector("by_stream", "$all"), buffer)


async def test_live_observer_gets_new_events_only_and_filtered() -> None:
    store = FakeStore()
    store.append(5)
    hub = ObserverHub(store.read)
    sink, typed = Sink(), Sink()
    only_b = Observer(parse_selector("by_event_type", "b:v1"), 100)
    async with observing(hub, everything(), sink), observing(hub, only_b, typed):
        assert sink.messages[0] == {"type": "live", "position": 5}
        store.append(3)
        store.append(2, event_type="b:v1")
        await until(lambda: len(sink.positions()) == 5 and len(typed.positions()) == 2)
    assert sink.positions() == [6, 7, 8, 9, 10]
    assert typed.positions() == [9, 10]
    assert hub._tails == {}, "the tail stops with its last observer"


async def test_slow_observer_drops_oldest_and_never_holds_up_others() -> None:
    store = FakeStore()
    hub = ObserverHub(store.read)
    slow, fast = Sink(), Sink()
    slow_observer = everything(buffer=10)
    async with observing(hub, slow_observer, slow), observing(hub, everything(), fast):
        slow.gate.clear()  # the slow client stops reading
        store.append(1)
        await slow.blocked.wait()  # position 1 is on its way; the client does not take it
        for _ in range(10):
            store.append(5)  # appending never waits for any observer
        await until(lambda: len(fast.positions()) == 51)
        await until(lambda: slow_observer.dropped == 40)
        slow.gate.set()
        await until(lambda: len(slow.positions()) == 11)
    assert fast.positions() == list(range(1, 52))
    assert fast.dropped() == 0
    kinds = [m["type"] for m in slow.messages]
    assert kinds == ["live", "events", "dropped", "events"]
    assert slow.dropped() == 40
    assert slow.positions() == [1, *range(42, 52)], "the newest events are kept"


async def test_catch_up_joins_the_live_tail_without_gap_or_duplicate() -> None:
    store = FakeStore()
    store.append(2500)
    hub = ObserverHub(store.read)
    early = Sink()
    async with observing(hub, everything(), early):  # the tail is running at position 2500
        history_reads = 0

        def more_arrives() -> None:
            nonlocal history_reads
            history_reads += 1
            if history_reads <= 3:
                store.append(700)  # the tail moves on while the late observer catches up

        store.before_history_read = more_arrives
        late = Sink()
        async with observing(hub, everything(), late, from_position=1000):
            store.before_history_read = None
            store.append(10)
            await until(lambda: late.positions()[-1:] == [len(store.events)])
    assert late.positions() == list(range(1001, len(store.events) + 1))
    assert early.positions() == list(range(2501, len(store.events) + 1))


async def test_catch_up_with_a_selector_and_a_future_position() -> None:
    store = FakeStore()
    store.append(4, stream="a")
    store.append(4, stream="b")
    hub = ObserverHub(store.read)
    only_a, future = Sink(), Sink()
    a_observer = Observer(parse_selector("by_stream", "$a"), 100)
    async with observing(hub, a_observer, only_a, 2), observing(hub, everything(), future, 10):
        store.append(4, stream="a")
        await until(lambda: len(only_a.positions()) == 6 and len(future.positions()) == 2)
    assert only_a.positions() == [3, 4, 9, 10, 11, 12]
    assert future.positions() == [11, 12]


async def test_a_one_stream_observer_catches_up_through_the_stream() -> None:
    """Its history reads name the stream (the node reads its index) and move by ``read_to``,
    so a stream with few events in a big store takes one read, not one per 1,000 events."""
    store = FakeStore()
    store.append(3, stream="a")
    store.append(5000, stream="b")
    store.append(2, stream="a")
    hub = ObserverHub(store.read)
    sink = Sink()
    observer = Observer(parse_selector("by_stream", "$a"), 100)
    async with observing(hub, observer, sink, 1):
        store.append(1, stream="a")
        await until(lambda: len(sink.positions()) == 5)
    assert sink.positions() == [2, 3, 5004, 5005, 5006]
    history = [q for q in store.reads if q["kind"] == "all" and q.get("stream") == "a"]
    assert [q["from_position"] for q in history] == [1]


async def test_missing_store_is_refused_before_anything_is_sent() -> None:
    store = FakeStore("other")
    hub = ObserverHub(store.read)
    sink = Sink()
    with pytest.raises(GateError) as info:
        await hub.observe("reg_gh", everything(), None, sink.send)
    assert info.value.code == "store_not_found"
    assert sink.messages == []
    assert hub._tails == {}
