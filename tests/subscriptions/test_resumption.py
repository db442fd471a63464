"""Subscriptions across failures: a SIGKILL of the leader and a full cluster restart.

Every event is identified by its id: a consumer may see an event twice (at-least-once), but it
must see every event, and an observer must see each exactly once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from engine.client import EmbeddedCluster, GateClient
from engine.client.subscriptions import Consumer
from tests.cluster_harness import RunningCluster, wait_for

STORE = "reg_gh"
MakeCluster = Callable[..., Awaitable[RunningCluster]]


def events(n: int) -> list[dict[str, Any]]:
    return [{"event_id": str(uuid.uuid4()), "event_type": "t:v1", "data": {}} for _ in range(n)]


class AckingConsumer:
    """Consumes in the background, acknowledging every batch; remembers every delivery."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.deliveries: list[str] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.consumer:
            self.deliveries += [e["event_id"] for e in batch]
            await self.consumer.ack([e["event_id"] for e in batch])

    async def wait_for_ids(self, ids: list[str], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not set(ids) <= set(self.deliveries):
                if self.task.done():
                    self.task.result()
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def observed_ids(client: GateClient, stream: str, expected: int, timeout: float) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        async for message in client.observe(STORE, {"by_stream": f"${stream}"}, from_position=0):
            if message["type"] == "events":
                seen += [e["event_id"] for e in message["events"]]
            if len(seen) >= expected:
                return seen
    return seen


async def _listed(client: GateClient, name: str) -> dict[str, Any]:
    return next(s for s in await client.list_subscriptions(STORE) if s["name"] == name)


async def test_consumers_and_observers_resume_after_leader_sigkill(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    stream, name = f"kill-{uuid.uuid4().hex[:6]}", "after-kill"
    async with cluster.new_client(retry_deadline=30) as client:
        await client.put_subscription(STORE, name, {"by_stream": f"${stream}"}, ack_timeout_ms=2000)
        written: list[str] = []
        for _ in range(10):
            batch = events(20)
            await client.append(STORE, stream, batch)
            written += [e["event_id"] for e in batch]
        async with client.consume(STORE, name) as consumer:
            worker = AckingConsumer(consumer)
            try:
                await worker.wait_for_ids(written[:100], 15)
                await wait_for(
                    lambda: _listed(client, name), lambda sub: sub["acked"] >= 100, 10, "acks kept"
                )
                leader = await cluster.leader()
                await client.node_action(leader, "kill")
                for _ in range(10):
                    batch = events(20)
                    await client.append(STORE, stream, batch)  # retried through the failover
                    written += [e["event_id"] for e in batch]
                new_leader = await wait_for(
                    cluster.leader, lambda node: node != leader, 20, "a new leader"
                )
                await worker.wait_for_ids(written, 30)
                assert consumer.reconnects >= 1, "the consumer reconnected by itself"
                assert new_leader != leader
                # The new leader counts on from the replicated counts, not from zero.
                await wait_for(
                    lambda: _listed(client, name),
                    lambda sub: sub["acked"] >= len(written),
                    10,
                    "the counts to go on after the failover",
                )
            finally:
                await worker.stop()
        assert set(written) <= set(worker.deliveries), "no event skipped"
        await client.node_action(leader, "start")
        assert await observed_ids(client, stream, len(written), 20) == written


async def test_checkpoint_and_parked_events_survive_a_full_restart(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    stream, name = f"restart-{uuid.uuid4().hex[:6]}", "after-restart"
    written = events(50)
    ids = [e["event_id"] for e in written]
    async with cluster.new_client() as client:
        await client.put_subscription(STORE, name, {"by_stream": f"${stream}"})
        await client.append(STORE, stream, written)
        async with client.consume(STORE, name) as consumer:
            got: list[dict[str, Any]] = []
            async with asyncio.timeout(10):
                while len(got) < 30:
                    got += await anext(consumer)
            await consumer.ack(ids[:19])
            await consumer.nack([ids[19]], "park")
            # events 20..29 are delivered and never acknowledged
            await wait_for(
                lambda: client.list_subscriptions(STORE),
                lambda subs: (
                    subs[0]["checkpoint"] == got[19]["position"] and subs[0]["parked"] == 1
                ),
                10,
                "the checkpoint to be committed",
            )
    await cluster.embedded.stop()

    restarted = EmbeddedCluster(
        cluster.config_path, log_file=cluster.config_path.parent / "gw2.log"
    )
    await restarted.start()
    try:
        async with restarted.client() as client:
            (shown,) = await client.list_subscriptions(STORE)
            assert shown["checkpoint"] == got[19]["position"]
            assert shown["parked"] == 1
            assert (shown["acked"], shown["nacked"]) == (19, 1)
            assert shown["delivered"] >= 30
            async with client.consume(STORE, name) as consumer:
                again: list[dict[str, Any]] = []
                async with asyncio.timeout(10):
                    while len(again) < 30:
                        again += await anext(consumer)
                assert [e["event_id"] for e in again] == ids[20:50], "from the checkpoint on"
                await client.replay_parked(STORE, name)
                replayed = await anext(consumer)
                assert [e["event_id"] for e in replayed] == [ids[19]]
    finally:
        await restarted.stop()
