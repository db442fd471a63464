"""Partitions as a fault, with real processes: a node's Raft links cut in its own transport.

An isolated leader steps down by itself (check quorum) and the writes it took are never
acknowledged; the others elect a leader and go on; healed, it rejoins as a follower and every
node ends with the same events in the same order (the checker of :mod:`bench.lib.nemesis`, run
by ``faulted``).  Partial and one-way cuts show the asymmetric cases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.lib.nemesis import NodeProbe, serving_leader, unavailability_summary
from engine.client import GateError
from engine.cluster_secret import cluster_key, resolve_cluster_secret
from engine.gateway.tcp_pool import NodeConnection
from engine.protocol.commands import build_append
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_failover import assert_sane, faulted

MakeCluster = Callable[..., Awaitable[RunningCluster]]
# Default timing: 50 ms ticks, an election timeout of 6 to 12 ticks (0.3 to 0.6 s).  Check quorum
# looks back one election timeout at a time, so a cut-off leader steps down within two of them;
# the rest is slack for a loaded 2-core machine and the 50 ms polls.
ELECTION_TIMEOUT = 0.3
STEP_DOWN_BOUND = 2 * ELECTION_TIMEOUT + 1.0
NEW_LEADER_BOUND = 10.0


async def _propose_directly(cluster: RunningCluster, node_id: str, event_id: str) -> dict[str, Any]:
    """Send one append straight to ``node_id``'s TCP endpoint, as a gateway would: its answer."""
    config = resolve_cluster_secret(cluster.config, create=False)
    conn = NodeConnection(node_id, config.node(node_id).tcp, secret=cluster_key(config))
    command = build_append(
        "reg_gh",
        "fault-direct",
        {"events": [{"event_id": event_id, "event_type": "direct:v1", "data": {}}]},
        now_epoch_us=time.time_ns() // 1000,
        new_id=lambda: event_id,
        max_events=10,
    )
    try:
        return await conn.request({"op": "propose", "command": command, "timeout": 2.0}, 4.0)
    finally:
        conn.close()


async def node_text(cluster: RunningCluster, node_id: str, path: str) -> str:
    """A node's own answer to ``GET path``, as text (its metrics)."""
    async with aiohttp.ClientSession() as http, http.get(cluster.node_url(node_id) + path) as resp:
        return await resp.text()


def _others(cluster: RunningCluster, node_id: str) -> list[str]:
    return [n for n in cluster.config.node_ids if n != node_id]


def _entry(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in view["nodes"] if n["node_id"] == node_id)


async def test_isolated_leader_steps_down_and_never_acknowledges_what_it_took(
    make_cluster: MakeCluster,
) -> None:
    # A short gateway deadline: writes stuck on the cut-off leader come back 504 and are
    # retried with the same event ids at the new leader.
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    direct: dict[str, Any] = {}
    try:
        async with faulted(cluster, seed=21) as (workload, nemesis):
            old = await nemesis.leader()
            others = _others(cluster, old)
            cut_at = time.monotonic()
            answer = await client.isolate(old)
            assert answer["isolated"] is True, answer
            assert answer["cuts"] == {"in": others, "out": others}, answer
            # Taken into its log at most (it may still believe it leads): never acknowledged.
            writing = asyncio.create_task(_propose_directly(cluster, old, "direct-1"))
            status = await wait_for(
                lambda: probe.status(old),
                lambda s: s is not None and s["role"] != "leader",
                10,
                f"the isolated {old} to step down",
            )
            stepped_down = time.monotonic() - cut_at
            print(f"\n{old} isolated: stepped down after {stepped_down:.3f} s")
            assert stepped_down < STEP_DOWN_BOUND, stepped_down
            assert status["isolated"] is True and status["cuts"]["in"] == others, status
            new = await nemesis.leader(exclude=old, timeout=NEW_LEADER_BOUND)
            assert new in others
            assert await workload.wait_ack_after(time.monotonic(), 10) is not None
            direct = await writing
            view = await wait_for(
                client.cluster,
                lambda v: _entry(v, old)["isolated"] and v["leader"] == new,
                5,
                f"/api/cluster to show {old} isolated and {new} leading",
            )
            assert _entry(view, old)["cuts"] == {"in": others, "out": others}
            assert not _entry(view, new)["isolated"]
            log = await client.node_log(old)
            texts = [line["text"] for line in log["lines"]]
            assert any(t.startswith("links cut by an operator: isolated") for t in texts), texts
            metrics = await node_text(cluster, old, "/metrics")
            for direction in ("in", "out"):
                line = f'gate_node_links_cut{{direction="{direction}",node="{old}"}} 2.0'
                assert line in metrics, metrics
            assert any(t.startswith("stepped down: heard from 1 of 3 nodes") for t in texts), texts
            healed = await client.heal(old)
            assert healed["isolated"] is False and healed["cuts"] == {"in": [], "out": []}
            await nemesis.rejoined(old)
            status = await probe.status(old)
            assert status is not None and status["role"] == "follower", status
            assert status["leader"] == new, status
    finally:
        await probe.close()
        await client.close()
    assert direct["ok"] is False, direct
    assert direct["error"]["code"] in ("unavailable", "timeout", "not_leader"), direct
    # faulted() found no event that was never attempted: "direct-1" is on no node.
    for node_id in cluster.config.node_ids:
        events = await cluster.node_all(node_id)
        assert "direct-1" not in {e["event_id"] for e in events}, node_id


async def test_cut_between_the_leader_and_one_follower_the_cluster_keeps_serving(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=22) as (workload, nemesis):
            leader = await nemesis.leader()
            term = (await probe.status(leader) or {})["term"]
            cut_off, third = _others(cluster, leader)
            answer = await client.isolate(leader, [cut_off])
            assert answer["cuts"] == {"in": [cut_off], "out": [cut_off]}
            assert answer["isolated"] is False
            since = time.monotonic()
            await workload.wait_acked(workload.counts()["ack"] + 200, timeout=20)
            # Pre-vote and the third node's lease keep the cut-off follower from deposing the
            # leader: the same leader, in the same term, serves all along.
            statuses = await probe.statuses()
            assert serving_leader(statuses) == leader, statuses
            assert statuses[leader] is not None and statuses[leader]["term"] == term, statuses
            assert statuses[third] is not None, statuses
            assert statuses[third]["applied_position"] > 0
            assert await workload.wait_ack_after(since, 1) is not None
            await client.heal(leader)
            await nemesis.rejoined(cut_off)
    finally:
        await probe.close()
        await client.close()


async def test_a_leader_that_cannot_send_is_replaced_and_follows_once_healed(
    make_cluster: MakeCluster,
) -> None:
    # One way: the leader hears its peers but they never hear it.  They elect another leader;
    # it gets no answers to its appends, so check quorum makes it step down too.
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=23) as (_, nemesis):
            old = await nemesis.leader()
            answer = await client.isolate(old, direction="out")
            assert answer["cuts"] == {"in": [], "out": _others(cluster, old)}, answer
            new = await nemesis.leader(exclude=old, timeout=NEW_LEADER_BOUND)
            await wait_for(
                lambda: probe.status(old),
                lambda s: s is not None and s["role"] == "follower",
                10,
                f"the mute {old} to step down",
            )
            await client.heal(old, direction="out")
            await nemesis.rejoined(old)
            status = await probe.status(old)
            assert status is not None and status["leader"] == new, status
    finally:
        await probe.close()
        await client.close()


async def test_isolate_and_heal_among_the_nemesis_faults(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    async with faulted(cluster, seed=24) as (_, nemesis):
        records = await nemesis.run(["isolate_follower", "isolate_leader"], gap=0.5)
    summary = unavailability_summary(records)
    for record in records:
        assert_sane(record, summary)
    assert records[1].new_leader not in (None, records[1].old_leader), summary


async def test_isolating_a_node_that_is_down_is_refused(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    async with cluster.new_client(retry_deadline=0) as client:
        leader = await cluster.leader()
        follower = _others(cluster, leader)[0]
        await client.node_action(follower, "stop")
        await wait_for(
            client.cluster, lambda v: _entry(v, follower)["role"] == "down", 10, "the stop"
        )
        try:
            await client.isolate(follower)
        except GateError as exc:
            assert exc.code == "node_down", exc
            assert follower in exc.message
        else:
            raise AssertionError("isolating a stopped node was accepted")
