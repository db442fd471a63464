"""Narrow subscriptions on a big store, against a real 3-node cluster: the leader's dispatchers
read the whole store without blocking it past the followers' election timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from engine.client import GateClient
from tests.cluster_harness import RunningCluster, wait_for

STORE = "reg_gh"
APPENDS, PER_APPEND = 200, 1000  # 200,000 events: a 1.4 s scan in one piece on the test VM


async def _fill(client: GateClient) -> int:
    """200 appends of 1,000 events over 50 streams, four at a time; the last position."""
    gate = asyncio.Semaphore(4)
    positions: list[int] = []

    async def append(k: int) -> None:
        events = [
            {"event_type": "temperature_measured:v1", "data": {"temperature": 20 + i % 10}}
            for i in range(PER_APPEND)
        ]
        async with gate:
            answer = await client.append(STORE, f"greenhouse-{k % 50}", events)
        positions.append(answer["position"])

    await asyncio.gather(*(append(k) for k in range(APPENDS)))
    return max(positions)


async def test_narrow_subscriptions_on_a_big_store_keep_the_leader(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    """Two subscriptions that match none of 200,000 events (a stream not yet written, an event
    type not yet used): one reads through the stream's index, the other every page with the
    loop free in between.  Both checkpoints reach the end and the term never changes (before,
    the leader blocked for the whole scan, lost its term, and each new leader did the same)."""
    cluster = await make_cluster(extra={"storage": {"fsync": "os"}})  # a faster fill
    async with cluster.new_client() as client:
        last = await _fill(client)
        assert last == APPENDS * PER_APPEND
        before = await client.cluster()
        await client.put_subscription(STORE, "audit", {"by_stream": "$audit-1"})
        await client.put_subscription(STORE, "opened", {"by_event_type": "audit_opened:v1"})

        def at_the_end(subscriptions: list[dict[str, Any]]) -> bool:
            return sorted(s["checkpoint"] for s in subscriptions) == [last, last]

        await wait_for(
            lambda: client.list_subscriptions(STORE), at_the_end, 60, "both checkpoints at the end"
        )
        after = await client.cluster()
        assert (after["leader"], after["term"]) == (before["leader"], before["term"])
