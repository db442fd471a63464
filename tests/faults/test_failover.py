"""Automatic failover with real processes: SIGKILL, SIGSTOP and restarts under a write load.

Each test runs the workload of :mod:`bench.lib.nemesis` against a private 3-node cluster,
injects faults, heals, and lets the checker compare every node's own ``$all`` with what the
writers were told. ``pytest -s`` shows the fault log and the unavailability figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bench.lib.nemesis import (
    FaultRecord,
    Nemesis,
    NodeProbe,
    Workload,
    converge,
    leader_kill_figures,
    unavailability_summary,
)
from engine.client.checker import check_histories, replay_live
from tests.cluster_harness import RunningCluster, wait_for

MakeCluster = Callable[..., Awaitable[RunningCluster]]
NEW_LEADER_BOUND = 10.0  # seconds; generous, the machine may be loaded
UNAVAILABLE_BOUND = 10.0
WARM_UP_WRITES = 100  # acknowledged before the first fault, so restarted nodes have to catch up


@contextlib.asynccontextmanager
async def faulted(cluster: RunningCluster, seed: int) -> AsyncIterator[tuple[Workload, Nemesis]]:
    """A running workload and a nemesis; on exit the writers stop, the nodes converge, and
    the checker's verdict is asserted."""
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=seed)
    workload.start()
    try:
        await workload.wait_acked(WARM_UP_WRITES, timeout=20)
        async with Nemesis(cluster, workload, rng=random.Random(seed)) as nemesis:
            yield workload, nemesis
    finally:
        await workload.stop()
    summary = unavailability_summary(nemesis.records)
    histories = await converge(cluster, workload.attempts, timeout=30)
    verdict = check_histories(histories, workload.attempts)
    print(f"\n{summary}\n{verdict.report()}")
    assert verdict.ok, f"{verdict.report()}\n{summary}"
    # The consoles' live checker, run over the same histories, agrees.
    live = replay_live(histories, workload.attempts)
    acked = sum(len(a.event_ids) for a in workload.attempts if a.outcome == "ack")
    assert live.ok and live.checked == acked, live
    assert not nemesis.history.conflicts(), f"two leaders in one term: {nemesis.history.claims}"
    acked_after_warm_up = workload.counts()["ack"] - WARM_UP_WRITES
    assert acked_after_warm_up > 0, f"no writes acknowledged past the warm-up: {workload.counts()}"


def assert_sane(record: FaultRecord, summary: str) -> None:
    """Loose upper bounds only: a loaded 2-core machine makes timings vary."""
    assert record.unavailable_s is not None, f"no write acknowledged after {record}\n{summary}"
    assert record.unavailable_s < UNAVAILABLE_BOUND, f"{record}\n{summary}"
    if record.election_s is not None:
        assert record.election_s < NEW_LEADER_BOUND, f"{record}\n{summary}"


async def test_writes_survive_leader_and_follower_faults(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    async with faulted(cluster, seed=1) as (_, nemesis):
        faults = ["kill_leader", "pause_leader", "stop_follower", "kill_follower"]
        records = await nemesis.run(faults, gap=1.0)
        await nemesis.heal()
    summary = unavailability_summary(records)
    for record in records:
        assert_sane(record, summary)
    assert [r.kind for r in records] == faults
    assert records[0].new_leader != records[0].old_leader
    print(f"leader kill: {leader_kill_figures(records)} s to the first acknowledged new write")


async def test_killed_leader_is_replaced_and_rejoins_as_follower(
    make_cluster: MakeCluster,
) -> None:
    # restart: never, so the killed leader stays down until the nemesis starts it: the feed
    # must show it down; tests/faults/test_self_healing.py lets the gateway restart it.
    cluster = await make_cluster(extra={"gateway": {"restart": "never"}})
    feed: list[dict[str, Any]] = []
    async with cluster.new_client() as watcher:

        async def follow() -> None:
            async for message in watcher.cluster_events():
                feed.append(message)

        follower = asyncio.create_task(follow())
        try:
            await wait_for(lambda: _feed(feed), bool, 10, "the cluster event feed")
            async with faulted(cluster, seed=2) as (_, nemesis):
                record = await nemesis.inject("kill_leader_pid")  # os.kill(pid, SIGKILL)
                old, new = record.old_leader, record.new_leader
                summary = unavailability_summary([record])
                assert_sane(record, summary)
                assert new is not None and new != old, summary
                probe = NodeProbe(cluster)
                status = await probe.status(old)
                await probe.close()
                assert status is not None and status["role"] == "follower", status
                assert status["term"] > record.old_term, status
                # Elected on a timeout, not handed over: the timeline says "new leader".
                led = await wait_for(
                    watcher.cluster, lambda v: v["leader"] == new, 10, f"{new} leading"
                )
                assert not any(n["handed_over"] for n in led["nodes"]), led

                def saw_failover(messages: list[dict[str, Any]]) -> bool:
                    # node_down of the old leader, then its node_up; a leader_changed to the new.
                    events = [(m["type"], m.get("node_id")) for m in messages]
                    if ("node_down", old) not in events:
                        return False
                    after_down = events[events.index(("node_down", old)) :]
                    return ("node_up", old) in after_down and any(
                        m["type"] == "leader_changed" and m["leader"] == new for m in messages
                    )

                await wait_for(
                    lambda: _feed(feed),
                    saw_failover,
                    10,
                    f"leader_changed to {new} and node_down/node_up of {old} on the feed",
                )
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
    # faulted() checked that the restarted node's $all equals the others'.


async def test_paused_leader_steps_down_on_resume(make_cluster: MakeCluster) -> None:
    # A short gateway deadline turns writes stuck on the frozen leader into 504s, which the
    # client retries with the same event ids at the new leader.
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 1.0}})
    probe = NodeProbe(cluster)
    try:
        async with faulted(cluster, seed=3) as (_, nemesis):
            record = await nemesis.inject("pause_leader")  # SIGSTOP, new leader, SIGCONT
            summary = unavailability_summary([record])
            assert_sane(record, summary)
            old, new = record.old_leader, record.new_leader
            assert new is not None and new != old, summary
            statuses = await probe.statuses()
            assert statuses[old] is not None and statuses[old]["role"] == "follower", statuses
            assert statuses[old]["term"] > record.old_term, statuses
        # The workload has stopped: every log must end up the same, the resumed leader's
        # uncommitted tail (if it had one) truncated and replaced.
        await wait_for(
            probe.statuses,
            lambda s: (
                all(v is not None for v in s.values())
                and len({(v["last_index"], v["commit_position"]) for v in s.values()}) == 1
            ),
            15,
            "all logs to match",
        )
    finally:
        await probe.close()


async def _feed(feed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return feed
