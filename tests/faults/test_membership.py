"""Membership changes at run time with real processes (docs/API.md, "Membership").

A node added under a write load joins as a learner, catches up by snapshot (the leader's log is
compacted), is promoted and holds every acknowledged write in the same order as the others;
the leader removes itself by handing over first; a restarted gateway with the original YAML
learns the added node from the cluster and launches it; a leader killed during a change leaves
one membership.  The checker is the fault tests' (bench/lib/nemesis.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from bench.lib.nemesis import (
    Nemesis,
    Workload,
    converge,
    unavailability_summary,
)
from engine.client import GateClient, GateError
from engine.client.checker import check_histories
from engine.client.launcher import EmbeddedCluster
from tests.cluster_harness import RunningCluster, free_ports, kill_pid, wait_for
from tests.faults.test_failover import assert_sane

pytestmark = pytest.mark.slow

MakeCluster = Callable[..., Awaitable[RunningCluster]]
KEEP = 40  # replication.compactAfter: the leader's log soon starts past a new node's empty one


def _entry(view: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    return next((n for n in view["nodes"] if n["node_id"] == node_id), None)


async def _add(cluster: RunningCluster, client: GateClient, node_id: str) -> dict[str, Any]:
    http, tcp = free_ports(2)
    answer = await client.add_node(node_id, http=("127.0.0.1", http), tcp=("127.0.0.1", tcp))
    cluster.added[node_id] = f"127.0.0.1:{http}"
    return dict(answer)


async def _voter(client: GateClient, node_id: str, timeout: float = 30.0) -> None:
    async def promoted() -> bool:
        entry = _entry(dict(await client.cluster()), node_id)
        return entry is not None and entry["voter"] and entry["role"] == "follower"

    await wait_for(promoted, bool, timeout, f"{node_id} promoted to voter")


async def _leader_status(cluster: RunningCluster) -> dict[str, Any]:
    return dict(await cluster.node_get(await cluster.leader(), "/status"))


async def _events(client: GateClient, seen: list[dict[str, Any]]) -> None:
    async for event in client.cluster_events():
        if str(event.get("type", "")).startswith("member_"):
            seen.append(dict(event))


async def _check(cluster: RunningCluster, workload: Workload, nodes: list[str]) -> None:
    histories = await converge(cluster, workload.attempts, timeout=40, nodes=nodes)
    verdict = check_histories(histories, workload.attempts)
    print(f"\n{verdict.report()}")
    assert verdict.ok, verdict.report()
    assert workload.counts()["ack"] > 0


async def test_a_node_added_under_writes_catches_up_by_snapshot_and_the_leader_removes_itself(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": KEEP}})
    client = cluster.new_client()
    seen: list[dict[str, Any]] = []
    watcher = asyncio.create_task(_events(client, seen))
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=17)
    workload.start()
    try:
        await workload.wait_acked(3 * KEEP, timeout=30)
        # The leader compacts once its stores' durable point (about a second) passes the
        # entries: only then must a new node start from a snapshot.
        await wait_for(
            lambda: _leader_status(cluster),
            lambda status: status["log"]["first_index"] > 1,
            30,
            "the leader's log compacted",
        )
        answer = await _add(cluster, client, "node4")
        assert answer["action"] == "add" and answer["voter"] is False
        with pytest.raises(GateError) as refused:  # the same node again
            await _add(cluster, client, "node4")
        assert refused.value.code in ("node_exists", "change_in_progress")
        await _voter(client, "node4")
        status = await cluster.node_get("node4", "/status")
        assert status["snapshot"]["index"] > 0, f"node4 did not start from a snapshot: {status}"
        assert status["voter"] is True
        log = await cluster.node_get("node4", "/log")
        assert any("installed" in line["text"] for line in log["lines"]), log

        leader = await cluster.leader()
        await client.remove_node(leader)
        remaining = [n for n in cluster.node_ids if n != leader]

        async def gone() -> bool:
            view = dict(await client.cluster())
            return _entry(view, leader) is None and view["leader"] in remaining

        await wait_for(gone, bool, 30, f"{leader} removed and another leader")
        await workload.wait_acked(workload.counts()["ack"] + 50, timeout=30)
    finally:
        await workload.stop()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await _check(cluster, workload, remaining)
    assert {"type": "member_added", "node_id": "node4", "voter": False} in seen, seen
    assert {"type": "member_promoted", "node_id": "node4"} in seen, seen
    assert {"type": "member_removed", "node_id": leader} in seen, seen
    # The removed node was managed: the gateway stopped it.
    with pytest.raises(OSError):
        await cluster.node_get(leader, "/health")
    await client.close()


async def test_refusals_name_the_reason(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    client = cluster.new_client()
    node1 = cluster.config.node("node1")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"node_id": "bad id", "http": {}, "tcp": {}}, 400, "invalid_request"),
        ({"node_id": "node9", "http": {"host": "127.0.0.1", "port": 0}}, 400, "invalid_request"),
        (
            {
                "node_id": "node2",
                "http": {"host": "127.0.0.1", "port": 1},
                "tcp": {"host": "127.0.0.1", "port": 2},
            },
            409,
            "node_exists",
        ),
        (
            {
                "node_id": "node9",
                "http": {"host": "127.0.0.1", "port": node1.http.port},
                "tcp": {"host": "127.0.0.1", "port": free_ports(1)[0]},
            },
            409,
            "port_in_use",
        ),
    ]
    async with aiohttp.ClientSession() as http:
        for body, status, code in cases:
            url = f"{cluster.url}/api/cluster/nodes"
            async with http.post(url, data=orjson.dumps(body)) as resp:
                answer = orjson.loads(await resp.read())
            assert (resp.status, answer["error"]["code"]) == (status, code), (body, answer)
    with pytest.raises(GateError) as unknown:
        await client.remove_node("node9")
    assert unknown.value.code == "node_not_found"
    # With node3 down, removing node2 would leave one reachable voter of two: no quorum.
    await client.node_action("node3", "stop")

    async def down() -> bool:
        entry = _entry(dict(await client.cluster()), "node3")
        return entry is not None and entry["role"] == "down"

    await wait_for(down, bool, 20, "node3 down")
    leader = await cluster.leader()

    async def unheard() -> bool:
        return "node3" not in (await cluster.node_get(leader, "/status"))["reachable"]

    await wait_for(unheard, bool, 20, f"{leader} no longer hears node3")
    other = next(n for n in ("node1", "node2") if n != leader)
    with pytest.raises(GateError) as too_few:
        await client.remove_node(other)
    assert too_few.value.code == "quorum_too_small", too_few.value
    await client.close()


async def test_a_restarted_gateway_learns_the_added_node_from_the_cluster(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    client = cluster.new_client()
    await client.append("reg_gh", "s1", [{"event_type": "t", "data": {"n": 1}}])
    await _add(cluster, client, "node4")
    await _voter(client, "node4")
    await client.close()
    await cluster.embedded.stop()
    # The same YAML, which lists node1..node3 only.
    cluster.embedded = EmbeddedCluster(cluster.config_path, log_file=cluster.embedded.log_file)
    await cluster.embedded.start()
    client = cluster.new_client()

    async def four() -> bool:
        view = dict(await client.cluster())
        entry = _entry(view, "node4")
        return entry is not None and entry["voter"] and entry["role"] == "follower"

    await wait_for(four, bool, 30, "node4 seen and launched by the restarted gateway")
    view = dict(await client.cluster())
    assert [n["node_id"] for n in view["nodes"]] == ["node1", "node2", "node3", "node4"]
    assert all(n["voter"] for n in view["nodes"])
    await client.close()


async def test_a_leader_killed_during_a_change_leaves_one_membership(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": KEEP}})
    client = cluster.new_client()
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=23)
    workload.start()
    rng = random.Random(23)
    try:
        await workload.wait_acked(2 * KEEP, timeout=30)
        leader = await cluster.leader()
        adding = asyncio.create_task(_add(cluster, client, "node4"))
        await asyncio.sleep(rng.uniform(0.0, 0.05))  # seeded: somewhere inside the change
        kill_pid(await cluster.node_pid(leader))
        with contextlib.suppress(GateError):
            await adding
        await client.node_action(leader, "start")

        async def settled() -> bool:
            view = dict(await client.cluster())
            if view["leader"] is None:
                return False
            statuses = [await cluster.node_get(n, "/status") for n in cluster.config.node_ids]
            memberships = {tuple(s["membership"]["voters"]) for s in statuses}
            pending = any(s["membership"]["pending"] for s in statuses)
            return len(memberships) == 1 and not pending

        await wait_for(settled, bool, 40, "every node on one committed membership")
        members = (await cluster.node_get(cluster.config.node_ids[0], "/status"))["membership"]
        if "node4" in members["voters"] + members["learners"]:
            await _voter(client, "node4")
        else:
            cluster.added.pop("node4", None)
        await workload.wait_acked(workload.counts()["ack"] + 30, timeout=30)
    finally:
        await workload.stop()
    await _check(cluster, workload, cluster.node_ids)
    await client.close()


async def test_replacing_followers_among_the_nemesis_faults(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": KEEP}})
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=31)
    workload.start()
    try:
        await workload.wait_acked(2 * KEEP, timeout=30)
        async with Nemesis(cluster, workload, rng=random.Random(31)) as nemesis:
            faults = ["replace_follower", "kill_leader", "replace_follower", "isolate_follower"]
            records = await nemesis.run(faults, gap=0.5)
            await nemesis.heal()
            members = list(nemesis.probe.members)
    finally:
        await workload.stop()
    summary = unavailability_summary(records)
    for record in records:
        assert_sane(record, summary)
    assert not nemesis.history.conflicts(), nemesis.history.claims
    # Two nodes added, two removed: the checker reads the members, the nodes added among them.
    assert len(members) == 3 and set(cluster.added) & set(members), (members, cluster.added)
    await _check(cluster, workload, members)
