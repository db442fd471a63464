"""``/api/cluster/inside`` on real processes, through the console's operations layer
(console/ops/inside.py): at tempo 20 a follower's election timer is seen running down after the
leader is killed (kill -9), several samples before anyone is elected; at tempo 1 with a live
leader a follower's timer is seen reset by each heartbeat."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import pytest

from console.ops.cluster import ClusterStatus
from console.ops.inside import InsideFeed
from engine.client import GateClient
from tests.cluster_harness import RunningCluster

pytestmark = pytest.mark.slow

MakeCluster = Callable[..., Awaitable[RunningCluster]]
TICK_MS = 50  # replication.tickMs of the test config (the default)
HEARTBEAT_TICKS = 1  # replication.heartbeatTicks (the default)


async def _samples(
    feed: InsideFeed,
    view: ClusterStatus,
    until: Callable[[ClusterStatus], bool],
    timeout: float,
    what: str,
) -> list[ClusterStatus]:
    """Each update of ``feed`` merged over ``view`` (what the Cluster panel draws), until one
    satisfies ``until``."""
    seen: list[ClusterStatus] = []
    updates = feed.updates
    deadline = time.monotonic() + timeout
    while not seen or not until(seen[-1]):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s; last: {seen[-1:]!r}")
        await asyncio.sleep(0.02)  # the feed's own pace is 0.1 s: every update is seen
        if feed.updates != updates:
            updates = feed.updates
            seen.append(feed.merged(view))
    return seen


async def _watched(client: GateClient, nodes: list[str]) -> tuple[InsideFeed, ClusterStatus]:
    feed = InsideFeed(client)
    feed.watch(True)
    view = ClusterStatus.from_view(await client.cluster())
    await _samples(
        feed,
        view,
        lambda s: set(feed.nodes) == set(nodes) and sum(n.role == "leader" for n in s.nodes) == 1,
        20,
        "inside of every node with one leader",
    )
    return feed, view


async def test_a_followers_timer_runs_down_once_the_leader_is_killed_at_tempo_20(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    client = cluster.new_client(retry_deadline=5)
    try:
        answer = await client.set_tempo(20)
        assert sorted(answer["nodes"]) == cluster.node_ids, answer
        feed, view = await _watched(client, cluster.node_ids)
        latest = feed.merged(view)
        leader = next(n.node_id for n in latest.nodes if n.role == "leader")
        term = latest.node(leader).term or 0
        followers = [n for n in cluster.node_ids if n != leader]
        await client.node_action(leader, "kill")
        killed = time.monotonic()

        def elected(status: ClusterStatus) -> bool:
            return any(
                n.role == "leader" and (n.term or 0) > term
                for n in status.nodes
                if n.node_id != leader
            )

        seen = await _samples(feed, view, elected, 60, "a new leader")
        took = time.monotonic() - killed
        # The killed leader is not asked any more: its row keeps the cluster view's values.
        assert feed.nodes.keys() == set(followers)
        # Before the election, a follower's timer is seen rising, sample after sample, within
        # its timeout (6-12 s at x20, 0.1 s between samples).
        runs = []
        for follower in followers:
            timers = [
                (row.timer_elapsed_ms, row.timer_timeout_ms)
                for status in seen
                if (row := status.node(follower)).role == "follower"
                and row.timer_elapsed_ms is not None
            ]
            runs.append(longest_rise(timers))
        assert max(runs) >= 3, (runs, took)
        assert took > 3, took  # slow motion: the shortest timeout is 6 s
        await feed.stop()
    finally:
        await client.close()


def longest_rise(timers: list[tuple[int | None, int | None]]) -> int:
    """The most samples in a row whose elapsed time rises strictly and stays within the
    timeout."""
    best = run = 0
    last = -1
    for elapsed, timeout in timers:
        assert elapsed is not None and timeout
        if elapsed > last and elapsed <= timeout:
            run += 1
        else:
            run = 1
        last = elapsed
        best = max(best, run)
    return best


async def test_a_followers_timer_is_reset_by_each_heartbeat_at_tempo_1(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    client = cluster.new_client(retry_deadline=5)
    try:
        feed, view = await _watched(client, cluster.node_ids)
        count = 0

        def enough(_: ClusterStatus) -> bool:
            nonlocal count
            count += 1
            return count >= 30

        seen = await _samples(feed, view, enough, 30, "30 samples")
        leader = next(n.node_id for n in seen[-1].nodes if n.role == "leader")
        elapsed = [
            row.timer_elapsed_ms
            for status in seen
            for row in status.nodes
            if row.node_id != leader and row.timer_elapsed_ms is not None
        ]
        heartbeat = HEARTBEAT_TICKS * TICK_MS
        # Reset by every heartbeat: at most one heartbeat's wait, as a rule; a sample taken as a
        # loaded machine delays one heartbeat may see two, never the timeout (300 ms at least).
        assert statistics.median(elapsed) <= heartbeat, elapsed
        assert max(elapsed) < 6 * TICK_MS, elapsed
        await feed.stop()
    finally:
        await client.close()
