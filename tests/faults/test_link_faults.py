"""Link faults with real processes: one direction of a Raft link lossy, slow or cut, message by
message, in the sending node's transport (``POST /api/cluster/links``).

A link that drops everything both ways is a partition and one that drops everything one way a
one-way partition: the cluster does what it does under ``isolate``, and the checker of
:mod:`bench.lib.nemesis` (run by ``faulted``, unchanged) finds every acknowledged write once,
in order, on every node.  Lossy and slow links, among the nemesis faults and one of each at
once, slow the cluster down without losing anything.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bench.lib.nemesis import NodeProbe, unavailability_summary
from engine.client import GateClient
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_failover import assert_sane, faulted
from tests.faults.test_partitions import NEW_LEADER_BOUND, STEP_DOWN_BOUND, node_text

MakeCluster = Callable[..., Awaitable[RunningCluster]]


def _others(cluster: RunningCluster, node_id: str) -> list[str]:
    return [n for n in cluster.config.node_ids if n != node_id]


async def _drop_all(client: GateClient, frm: str, peers: list[str]) -> None:
    for peer in peers:
        fault = await client.set_link_fault(frm, peer, drop=1.0)
        assert fault == {
            "from": frm,
            "to": peer,
            "drop": 1.0,
            "delayMs": 0,
            "duplicate": 0.0,
            "seed": fault["seed"],
        }, fault


async def test_a_leader_whose_links_drop_everything_both_ways_is_partitioned(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=31) as (workload, nemesis):
            old = await nemesis.leader()
            others = _others(cluster, old)
            cut_at = time.monotonic()
            await _drop_all(client, old, others)
            for peer in others:
                await client.set_link_fault(peer, old, drop=1.0)
            listed = await client.link_faults()
            pairs = {(f["from"], f["to"]) for f in listed["links"]}
            assert pairs == {(old, p) for p in others} | {(p, old) for p in others}, listed
            await wait_for(
                lambda: probe.status(old),
                lambda s: s is not None and s["role"] != "leader",
                10,
                f"{old}, its links dropping everything, to step down",
            )
            stepped_down = time.monotonic() - cut_at
            print(f"\n{old} behind 100%-drop links: stepped down after {stepped_down:.3f} s")
            assert stepped_down < STEP_DOWN_BOUND + 1.0, stepped_down
            new = await nemesis.leader(exclude=old, timeout=NEW_LEADER_BOUND)
            assert new in others
            assert await workload.wait_ack_after(time.monotonic(), 10) is not None
            view = await wait_for(
                client.cluster,
                lambda v: any(n["link_faults"] for n in v["nodes"] if n["node_id"] == old),
                5,
                "the cluster view to show the link faults",
            )
            row = next(n for n in view["nodes"] if n["node_id"] == old)
            assert {f["to"] for f in row.get("link_faults", [])} == set(others), row
            log = await client.node_log(old)
            texts = [line["text"] for line in log["lines"]]
            assert any(t.startswith("link to ") and "drop 100%" in t for t in texts), texts
            metrics = await node_text(cluster, old, "/metrics")
            dropped = next(
                line
                for line in metrics.splitlines()
                if line.startswith(f'gate_node_messages_dropped_total{{node="{old}"}}')
            )
            assert float(dropped.split()[-1]) > 0, dropped
            cleared = await client.clear_link_faults()
            assert sorted(cleared["cleared"]) == sorted(cluster.config.node_ids), cleared
            assert (await client.link_faults())["links"] == []
            await nemesis.rejoined(old)
    finally:
        await probe.close()
        await client.close()


async def test_a_leader_whose_outgoing_links_drop_everything_is_a_one_way_partition(
    make_cluster: MakeCluster,
) -> None:
    # As isolate with direction "out": the peers never hear it and elect another leader; it
    # hears them but gets no answers to its appends, so check quorum makes it step down.
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=32) as (_, nemesis):
            old = await nemesis.leader()
            await _drop_all(client, old, _others(cluster, old))
            new = await nemesis.leader(exclude=old, timeout=NEW_LEADER_BOUND)
            await wait_for(
                lambda: probe.status(old),
                lambda s: s is not None and s["role"] == "follower",
                10,
                f"the mute {old} to step down",
            )
            await client.clear_link_faults(frm=old)
            await nemesis.rejoined(old)
            status = await probe.status(old)
            assert status is not None and status["leader"] == new, status
    finally:
        await probe.close()
        await client.close()


async def _counted(cluster: RunningCluster, node: str, what: str) -> float:
    """A node's ``gate_node_messages_<what>_total``."""
    metrics = await node_text(cluster, node, "/metrics")
    prefix = f'gate_node_messages_{what}_total{{node="{node}"}}'
    return float(next(ln for ln in metrics.splitlines() if ln.startswith(prefix)).split()[-1])


async def test_a_lossy_link_and_a_slow_one_at_once_lose_nothing(make_cluster: MakeCluster) -> None:
    # node1 -> node2 drops 30% while node3 -> node1 is 200 ms late, together, as writers write
    # through the gateway; then both are cleared. faulted's checker reads every node back.
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    client = cluster.new_client(retry_deadline=0)
    try:
        async with faulted(cluster, seed=34) as (workload, _):
            await client.set_link_fault("node1", "node2", drop=0.3, seed=34)
            await client.set_link_fault("node3", "node1", delay_ms=200)
            listed = await client.link_faults()
            assert {(f["from"], f["to"]) for f in listed["links"]} == {
                ("node1", "node2"),
                ("node3", "node1"),
            }, listed
            await workload.wait_acked(workload.counts()["ack"] + 100, timeout=30)
            assert await _counted(cluster, "node1", "dropped") > 0
            assert await _counted(cluster, "node3", "delayed") > 0
            await client.clear_link_faults()
            assert (await client.link_faults())["links"] == []
            assert await workload.wait_ack_after(time.monotonic(), 10) is not None
    finally:
        await client.close()


async def test_lossy_and_slow_links_among_the_nemesis_faults(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 2.0}})
    async with faulted(cluster, seed=33) as (_, nemesis):
        kinds = ["lossy_leader", "slow_follower", "lossy_follower", "drop_leader"]
        records = await nemesis.run(kinds, gap=0.5)
    summary = unavailability_summary(records)
    for record in records:
        assert_sane(record, summary)
    assert records[3].new_leader not in (None, records[3].old_leader), summary
