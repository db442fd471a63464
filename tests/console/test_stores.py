"""More than one store, and each node's inside, in the operations layer: the words on their
own, then against a real cluster (no front end involved)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from console.ops.cluster import ClusterStatus, FollowerProgress, uptime_text
from console.ops.errors import OpsError
from console.ops.operations import Operations
from console.ops.session import SessionError, SessionOptions
from console.ops.stores import Running, StoreRow
from tests.cluster_harness import RunningCluster, wait_for
from tests.tui.recorded import HEALTHY, node


def test_the_words_for_counts_uptimes_and_progress() -> None:
    assert StoreRow("shop", 1, 1240, 2).counts == "1 stream · 1,240 events · 2 subscriptions"
    assert StoreRow("shop", 0, 0).counts == "0 streams · 0 events"  # subscriptions unknown
    assert Running(2, 3, 1).words == "2 observers, 3 producers and 1 consumer"
    assert Running(0, 1, 0).words == "1 producer" and Running().words == ""
    assert [uptime_text(s) for s in (None, -3, 59.9, 61, 3725, 90061)] == [
        "-",
        "0s",
        "59s",
        "1m01s",
        "1h02m",
        "1d01h",
    ]
    assert FollowerProgress("node3", 1236, 1237, "probe").text == "node3 1236/1237 (probe)"
    assert FollowerProgress("node2", 9, 10, "replicate").text == "node2 9/10"


def test_a_nodes_inside_in_words() -> None:
    assert HEALTHY.inside("node1") == [
        "node1: voted for node1 in term 3 · up 1h02m · checks its quorum in 200/300 ms",
        "match/next: node2 1240/1241 · node3 1236/1237 (probe)",
    ]
    assert HEALTHY.inside("node3") == [
        "node3: voted for node1 in term 3 · up 38m45s · times out in 240/420 ms",
        "leader node1: match 1236, next 1237 (probe)",
    ]
    down = ClusterStatus(None, 4, (node("node1", "leader", up=False), node("node2", "follower")))
    assert down.inside("node1") == ["node1: does not answer"]
    # No leader that reports progress: the vote and timer only.
    assert down.inside("node2") == [
        "node2: voted for node1 in term 3 · up 50m25s · times out in 300/420 ms"
    ]
    assert down.node("node2").timer_left == pytest.approx(300 / 420)


@pytest.fixture
async def ops(cluster: RunningCluster) -> AsyncIterator[Operations]:
    operations = await Operations.open(SessionOptions(connect=cluster.url), seed=5)
    try:
        yield operations
    finally:
        await operations.close()


async def test_switching_store_stops_what_ran_on_the_old_one(ops: Operations) -> None:
    await ops.streams.append_generated("stores-1", 4)
    observer = await ops.observers.create_by_stream("$all")
    await ops.producers.start(2)
    await ops.subscriptions.create("stores_sub", {"by_stream": "$all"})
    assert ops.running() == Running(1, 2, 1)
    old_consumer = ops.subscriptions.consumer("stores_sub")
    old_verdict = ops.verdict
    await wait_for(
        ops.verdict.round,
        lambda _: ops.verdict.latest is not None and ops.verdict.latest.acked > 0,
        10,
        "a verdict on reg_gh's producers",
    )

    switch = await ops.switch_store("stores_shop")
    assert (switch.previous, switch.created, switch.stopped) == ("reg_gh", True, Running(1, 2, 1))
    assert switch.store == StoreRow("stores_shop", 0, 0, 0)
    # Everything of the console now works on the new store; nothing runs on the old one.
    assert ops.store == "stores_shop" and ops.running() == Running()
    assert observer.state != "running" and old_consumer.state == "stopped"
    # The verdict on reg_gh's producers ended with them; the new store's starts afresh.
    assert ops.verdict is not old_verdict and ops.verdict.latest is None
    assert old_verdict._task is None
    assert [row.stream_id for row in await ops.streams.rows()] == []
    await ops.streams.append_generated("shop-1", 3)
    assert [row.stream_id for row in await ops.streams.rows()] == ["shop-1"]
    assert await ops.subscriptions.rows() == []
    sample = await wait_for(
        ops.health.sample, lambda s: s.store == "stores_shop" and s.events == 3, 10, "a sample"
    )
    assert sample.streams == 1
    rows = {row.store_id: row for row in await ops.stores.rows()}
    assert rows["stores_shop"] == StoreRow("stores_shop", 1, 3, 0)
    assert rows["reg_gh"].subscriptions == 1 and rows["reg_gh"].events >= 4

    # Back: the store exists, nothing is created; nothing ran, so nothing stopped.
    back = await ops.switch_store(" reg_gh ")
    assert (back.previous, back.created, back.stopped) == ("stores_shop", False, Running())
    with pytest.raises(OpsError, match="works on reg_gh already"):
        await ops.switch_store("reg_gh")
    with pytest.raises(OpsError, match="name a store"):
        await ops.switch_store("  ")
    with pytest.raises(OpsError, match=r"'a b' cannot be a store: 1-64 of A-Z"):
        await ops.switch_store("a b")
    assert ops.store == "reg_gh"


async def test_a_reader_switches_to_stores_that_exist_only(cluster: RunningCluster) -> None:
    reader = await Operations.open(SessionOptions(connect=cluster.url, read_only=True))
    try:
        async with cluster.new_client() as client:
            await client.create_store("stores_reader")
        with pytest.raises(OpsError, match=r"no store .nowhere. .*only an admin creates one"):
            await reader.switch_store("nowhere")
        assert reader.store == "reg_gh"
        switch = await reader.switch_store("stores_reader")
        assert switch.created is False and reader.store == "stores_reader"
    finally:
        await reader.close()


async def test_the_cluster_status_carries_each_nodes_inside(ops: Operations) -> None:
    status = await wait_for(
        ops.cluster.status,
        lambda s: s.leader is not None and len(s.node(s.leader).progress) == 2,
        10,
        "the leader's progress of its followers",
    )
    leader = status.node(str(status.leader))
    assert leader.voted_for == leader.node_id and (leader.uptime_s or 0) > 0
    for follower in status.nodes:
        if follower.node_id == leader.node_id:
            continue
        assert follower.progress == ()
        progress = status.progress_of(follower.node_id)
        assert progress is not None and progress.next > progress.match
        assert (follower.timer_left or 0) > 0  # heartbeats keep its timer from running out
        lines = status.inside(follower.node_id)
        assert lines[0].startswith(f"{follower.node_id}: voted for ")
        assert lines[1].startswith(f"leader {leader.node_id}: match ")


async def test_a_console_starts_on_the_store_it_is_given(cluster: RunningCluster) -> None:
    # An admin's session creates it (gate-console --store, gate-repl --store).
    admin = await Operations.open(SessionOptions(connect=cluster.url, store="stores_cli"))
    try:
        assert admin.store == "stores_cli" and admin.streams.store == "stores_cli"
        assert "stores_cli" in [row.store_id for row in await admin.stores.rows()]
    finally:
        await admin.close()
    # A reader's cannot: one line naming the stores there are.
    with pytest.raises(SessionError, match=r"there is no store 'elsewhere' at http://.*reg_gh"):
        await Operations.open(
            SessionOptions(connect=cluster.url, store="elsewhere", read_only=True)
        )
