"""Leadership transfer with real processes: on request, and back to the master (preferredLeader).

Writes run all along (``faulted``: the workload of :mod:`bench.lib.nemesis` and its checker).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bench.lib.nemesis import NodeProbe, unavailability_summary
from engine.client import GateClient, GateError
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_failover import assert_sane, faulted
from tests.faults.test_partitions import node_text

MakeCluster = Callable[..., Awaitable[RunningCluster]]
# A hand-over is one election at most once the target is caught up; generous for a loaded machine.
TRANSFER_BOUND = 5.0
RETURN_BOUND = 20.0  # restart, catch up, four election timeouts of steady contact, hand-over
KEEPS_LEADING_WINDOW = 3.0


def _entry(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in view["nodes"] if n["node_id"] == node_id)


async def _refused(client: GateClient, node_id: str) -> GateError:
    with pytest.raises(GateError) as caught:
        await client.transfer_leadership(node_id)
    return caught.value


async def test_transfer_to_a_follower_under_writes(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=31) as (workload, nemesis):
            old = await nemesis.leader()
            target = next(n for n in cluster.config.node_ids if n != old)
            asked = time.monotonic()
            answer = await client.transfer_leadership(target)
            assert answer == {
                "node_id": target,
                "action": "transfer",
                "accepted": True,
                "from": old,
                "already_leader": False,
            }
            new = await nemesis.leader(exclude=old, timeout=TRANSFER_BOUND)
            took = time.monotonic() - asked
            print(f"\nleadership {old} -> {new} in {took:.3f} s")
            assert new == target
            # The cluster view says the new leader was handed over to (the timeline's words).
            view = await wait_for(
                client.cluster,
                lambda v: v["leader"] == target and _entry(v, target)["handed_over"],
                10,
                f"the cluster view to show {target} leading, handed over",
            )
            assert not _entry(view, old)["handed_over"], view
            assert await workload.wait_ack_after(time.monotonic(), 10) is not None
            status = await probe.status(old)
            assert status is not None and status["role"] == "follower", status
            log = await client.node_log(old)
            texts = [line["text"] for line in log["lines"]]
            assert f"asked to hand leadership over to {target}" in texts, texts
            metrics = await node_text(cluster, old, "/metrics")
            assert f'gate_node_leadership_transfers_total{{node="{old}"}} 1.0' in metrics
            # To the leader itself: nothing to do, and said so.
            again = await client.transfer_leadership(target)
            assert again["already_leader"] is True and again["from"] == target
            records = await nemesis.run(["transfer_leader"], gap=0.2)
    finally:
        await probe.close()
        await client.close()
    summary = unavailability_summary(records)
    assert_sane(records[0], summary)
    assert records[0].new_leader == records[0].node, summary


async def test_transfer_to_a_node_that_is_down_or_cut_off_is_refused(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    async with cluster.new_client(retry_deadline=0) as client:
        leader = await cluster.leader()
        stopped, cut_off = (n for n in cluster.config.node_ids if n != leader)
        await client.node_action(stopped, "stop")
        await wait_for(
            client.cluster, lambda v: _entry(v, stopped)["role"] == "down", 10, "the stop"
        )
        refused = await _refused(client, stopped)
        assert refused.code == "node_down" and stopped in refused.message, refused
        # Back, so that the leader keeps a quorum when the other follower is cut off from it.
        await client.node_action(stopped, "start")
        await wait_for(
            client.cluster,
            lambda v: _entry(v, stopped)["role"] == "follower" and _entry(v, stopped)["lag"] == 0,
            15,
            f"{stopped} to catch up",
        )
        # Up as far as the gateway sees, but the leader no longer hears it: the leader refuses.
        await client.isolate(cut_off, [leader])
        # The cut node may forget the leader at once: wait until the leader no longer counts it
        # reachable (not heard from within its window), which is what it refuses by.
        probe = NodeProbe(cluster)
        try:
            await wait_for(
                lambda: probe.status(cut_off),
                lambda s: s is not None and s["leader"] is None,
                5,
                f"{cut_off} to lose the leader",
            )
            await wait_for(
                lambda: probe.status(leader),
                lambda s: s is not None and cut_off not in s["reachable"],
                5,
                f"the leader to stop counting {cut_off} reachable",
            )
        finally:
            await probe.close()
        refused = await _refused(client, cut_off)
        assert refused.code == "node_down", refused
        assert f"the leader {leader} has not heard from it" in refused.message, refused
        view = await client.cluster()
        assert view["leader"] == leader and _entry(view, cut_off)["role"] == "follower", view


async def test_preferred_leader_return_takes_leadership_back_after_a_failover(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"preferredLeader": "return"}})
    master = cluster.config.preferred_node
    assert master is not None
    async with faulted(cluster, seed=33) as (_, nemesis):
        assert await nemesis.leader() == master
        record = await nemesis.inject("kill_leader")  # killed, a new leader, restarted, rejoined
        summary = unavailability_summary([record])
        assert_sane(record, summary)
        assert record.new_leader not in (None, master), summary
        await wait_for(
            nemesis.leader, lambda leader: leader == master, RETURN_BOUND, f"{master} to lead again"
        )
        # An operator's transfer stands: the policy undoes failovers only.
        other = next(n for n in cluster.config.node_ids if n != master)
        async with cluster.new_client(retry_deadline=0) as client:
            await client.transfer_leadership(other)
        await wait_for(
            nemesis.leader, lambda leader: leader == other, TRANSFER_BOUND, f"{other} to lead"
        )
        # Not a synchronisation: a window in which nothing may happen, longer than the
        # policy's settle time (4 election timeouts of 0.3 s) with room to spare.
        await asyncio.sleep(KEEPS_LEADING_WINDOW)
        assert await nemesis.leader() == other
    async with cluster.new_client() as client:
        log = await client.node_log(record.new_leader or "")
        texts = [line["text"] for line in log["lines"]]
        assert any(f"the preferred node {master} is back and caught up" in t for t in texts), texts
