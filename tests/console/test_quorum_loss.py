"""Issue #15: a console's consumer and observer outlive a lost quorum.

Two of three nodes are killed while they run; past the client's old retry deadline they still
say ``reconnecting`` (they used to stop with ``unavailable``), and once the nodes are back they
resume: the consumer from the checkpoint (the events in flight come again, nothing is skipped)
with its ack/nack policy, the observer after the last position it saw.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.ops.subscriptions import ConsumerPolicy, SubscriptionConsumer
from tests.cluster_harness import RunningCluster, wait_for
from tests.console.waiting import eventually

RETRY_DEADLINE = 1.0  # the session's client gave up after this long without a connection


class StateLog:
    """The consumer's states as they change, sampled every 10 ms."""

    def __init__(self, consumer: SubscriptionConsumer) -> None:
        self.states = [consumer.state]
        self._consumer = consumer
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            if self._consumer.state != self.states[-1]:
                self.states.append(self._consumer.state)
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_consumer_and_observer_reconnect_after_two_of_three_nodes_die(
    make_cluster: Callable[..., Awaitable[RunningCluster]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every batch the consumer settles, and a gate that holds settling (events stay in flight).
    deliveries: list[str] = []
    settling = asyncio.Event()
    settling.set()
    settle = SubscriptionConsumer._settle

    async def recording(self: SubscriptionConsumer, consumer: Any, batch: list[Any]) -> None:
        deliveries.extend(record["event_id"] for record in batch)
        await settling.wait()
        await settle(self, consumer, batch)

    monkeypatch.setattr(SubscriptionConsumer, "_settle", recording)

    cluster = await make_cluster()
    ops = await Operations.open(SessionOptions(connect=cluster.url), retry_deadline=RETRY_DEADLINE)
    stream = f"quorum-{uuid.uuid4().hex[:6]}"
    policy = ConsumerPolicy("nack_skip", 500)  # acks these events, and is not the default
    try:
        observer = await ops.observers.create({"by_stream": f"${stream}"}, "q-observer")
        await ops.subscriptions.create("teach_sub", {"by_stream": f"${stream}"}, policy=policy)
        consumer = ops.subscriptions.consumer("teach_sub")
        log = StateLog(consumer)

        first = await ops.streams.append_generated(stream, 3)
        acked = [e["event_id"] for e in first.events]
        await eventually(lambda: set(acked) <= set(deliveries), 15, "the first events")
        await wait_for(ops.subscriptions.rows, lambda rows: rows[0].acked >= 3, 10, "the acks")

        # Three more, delivered and held unacknowledged while the nodes die.
        settling.clear()
        second = await ops.streams.append_generated(stream, 3)
        in_flight = [e["event_id"] for e in second.events]
        await eventually(lambda: set(in_flight) <= set(deliveries), 15, "the in-flight events")

        leader = await cluster.leader()
        others = [n.node_id for n in cluster.config.nodes if n.node_id != leader]
        killed = [leader, others[0]]
        for node in killed:
            await ops.client.node_action(node, "kill")
        settling.set()  # their acks go nowhere: the leader is dead
        await eventually(lambda: consumer.state == "reconnecting", 20, "reconnecting")
        await asyncio.sleep(RETRY_DEADLINE * 3)  # the old consumer gave up by now
        # The observer may keep its connection to the gateway all along; it must not give up.
        assert consumer.state == "reconnecting" and observer.state in ("running", "reconnecting")
        # The table keeps the last counters it could read, with the consumer's state now.
        row = next(r for r in await ops.subscriptions.rows() if r.name == "teach_sub")
        assert (row.consuming_here, row.consumer_state) == (True, "reconnecting")

        for node in killed:
            await ops.client.node_action(node, "start")
        await cluster.leader(timeout=30)
        leader_back = time.monotonic()
        await eventually(lambda: consumer.state == "running", 15, "the consumer running again")
        assert time.monotonic() - leader_back < 5.0, "resumed within 5 s of a leader"

        third = await ops.streams.append_generated(stream, 3)
        fresh = [e["event_id"] for e in third.events]
        await eventually(lambda: set(fresh) <= set(deliveries), 20, "the new events")
        # At-least-once: the events in flight at the kill came again; none was skipped.
        assert all(deliveries.count(i) >= 2 for i in in_flight), deliveries
        assert set(acked + in_flight + fresh) <= set(deliveries)
        # The observer continued after the last position it saw: each event once.
        await eventually(lambda: observer.seen >= 9, 20, "the observer seeing the new events")
        await asyncio.sleep(0.5)
        assert (observer.seen, observer.state) == (9, "running")

        assert consumer is ops.subscriptions.consumer("teach_sub")
        assert consumer.policy == policy
        row = next(r for r in await ops.subscriptions.rows() if r.name == "teach_sub")
        assert (row.policy, row.consumer_state) == (policy, "running")
        await log.stop()
        assert log.states == ["running", "reconnecting", "running"]
        feed = consumer.feed.recent()
        assert any(line.startswith("⚠️  consumer teach_sub reconnecting") for line in feed)
        assert "✅ consumer teach_sub reconnected: resuming from the checkpoint" in feed
        assert not any("stopped" in line for line in feed)

        # Consuming it again here (c, option 26) keeps the policy chosen for it.
        await ops.subscriptions.stop_consumer("teach_sub")
        again = await ops.subscriptions.start_consumer("teach_sub")
        assert again.policy == policy
    finally:
        await ops.close()
