"""Replication to a quorum, with real node processes stopped and restarted."""

from __future__ import annotations

import pytest

from engine.client import GateError
from tests.cluster_harness import RunningCluster, wait_for


def ev(i: int) -> dict[str, object]:
    return {
        "event_type": "temperature_measured:v1",
        "data": {"temperature": i},
        "event_id": f"ev-{i}",
    }


async def node_role(cluster: RunningCluster, node_id: str) -> str:
    async with cluster.new_client() as client:
        view = await client.cluster()
    return next(n["role"] for n in view["nodes"] if n["node_id"] == node_id)


async def wait_role(cluster: RunningCluster, node_id: str, ok: set[str]) -> None:
    await wait_for(
        lambda: node_role(cluster, node_id), lambda r: r in ok, 15, f"{node_id} to be {ok}"
    )


async def test_quorum_writes_failures_and_catch_up(make_cluster) -> None:
    cluster: RunningCluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    leader = await cluster.leader()
    assert leader == "node1", "the config's master leads a fresh cluster"
    followers = ["node2", "node3"]
    async with cluster.new_client(retry_deadline=0) as client:
        for i in range(10):
            await client.append("reg_gh", "q", [ev(i)])

        # One follower down: a majority (2 of 3) remains, writes still succeed.
        await client.node_action(followers[0], "stop")
        await wait_role(cluster, followers[0], {"down"})
        for i in range(10, 20):
            await client.append("reg_gh", "q", [ev(i)])

        # Two followers down: no quorum. Once the leader has noticed (it steps down), a write
        # fails with 503 and is not half-written. (In the moment before it notices, a write
        # may be taken and left uncommitted: that answer is a 504, outcome unknown.)
        await client.node_action(followers[1], "stop")
        await wait_role(cluster, followers[1], {"down"})
        await wait_for(client.cluster, lambda v: v["leader"] is None, 15, "the leader to step down")
        with pytest.raises(GateError) as info:
            await client.append("reg_gh", "q", [ev(99), ev(100)])
        assert info.value.code == "unavailable"
        assert info.value.status == 503

        # Both come back and catch up; every node holds the same $all.
        await client.node_action(followers[0], "start")
        await client.node_action(followers[1], "start")
        await wait_for(lambda: client.ready(), bool, 20, "the cluster to be ready again")
        for i in range(20, 25):
            await client.append("reg_gh", "q", [ev(i)])

    reference = await wait_for(
        lambda: cluster.node_all(leader), lambda evs: len(evs) >= 25, 15, "the leader's events"
    )
    ids = [e["event_id"] for e in reference]
    assert ids == [f"ev-{i}" for i in range(25)], "acknowledged events, in order, once each"
    for node in followers:
        await wait_for(
            lambda n=node: cluster.node_all(n),
            lambda evs: evs == reference,
            20,
            f"{node} to catch up",
        )


async def test_follower_restart_catches_up_from_where_it_is(make_cluster) -> None:
    cluster: RunningCluster = await make_cluster()
    async with cluster.new_client() as client:
        for i in range(50):
            await client.append("reg_gh", f"s{i % 5}", [ev(i)])
        await client.node_action("node3", "kill")
        await wait_role(cluster, "node3", {"down"})
        for i in range(50, 300):
            await client.append("reg_gh", f"s{i % 5}", [ev(i)])
        await client.node_action("node3", "start")
    reference = await cluster.node_all("node1")
    assert len(reference) == 300
    await wait_for(
        lambda: cluster.node_all("node3"), lambda evs: evs == reference, 20, "node3 to catch up"
    )
