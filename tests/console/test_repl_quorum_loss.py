"""Issue #15 in gate-repl: its consumer outlives a lost quorum, says so, and keeps its policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.cluster_harness import RunningCluster, wait_for
from tests.console.repl_driver import ReplDriver, running_repl

RETRY_DEADLINE = 1.0  # running_repl's client: the old consumer gave up after this long


async def _step(repl: ReplDriver, option: int, *answers: tuple[str, str]) -> None:
    await repl.choose(option)
    for prompt, text in answers:
        await repl.answer(prompt, text)


async def test_the_repl_consumer_reconnects_after_two_of_three_nodes_die(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    cluster = await make_cluster()
    async with running_repl(cluster.url) as (repl, _), cluster.new_client() as admin:

        async def teach_sub() -> dict[str, object]:
            subs = await admin.list_subscriptions("reg_gh")
            return next(s for s in subs if s["name"] == "teach_sub")

        await _step(repl, 13, ("Enter stream name: ", "quorum-1"), ("(default 5)", "2"))
        await repl.printed("✅ Appended 2 events to 'quorum-1'")
        await _step(
            repl,
            10,
            ("Enter subscription name: ", "teach_sub"),
            ("Enter stream name: ", "quorum-1"),
            ("Start from version (default 0): ", ""),
        )
        await repl.printed("✅ Subscription 'teach_sub' created")
        await _step(
            repl,
            26,
            ("Enter subscription name: ", "teach_sub"),
            ("Enter action (default: ack): ", "nack_park"),
            ("Nack every Nth event (default 1): ", "2"),
        )
        await repl.printed("✅ The consumer of 'teach_sub' now parks every 2nd")
        await wait_for(teach_sub, lambda s: s["delivered"] == 2 and s["in_flight"] == 0, 15)

        leader = await cluster.leader()
        follower = next(n.node_id for n in cluster.config.nodes if n.node_id != leader)
        for node in (leader, follower):
            await admin.node_action(node, "kill")
        await asyncio.sleep(RETRY_DEADLINE * 4)  # the old consumer gave up by now
        await repl.choose(11)
        await repl.printed("reconnecting", timeout=30)

        for node in (leader, follower):
            await admin.node_action(node, "start")
        await cluster.leader(timeout=30)
        await _step(repl, 13, ("Enter stream name: ", "quorum-1"), ("(default 5)", "4"))
        await repl.printed("✅ Appended 4 events to 'quorum-1' (now at version 5)", timeout=30)
        # The new events reach the consumer; with its policy, every 2nd delivery is parked.
        settled = await wait_for(
            teach_sub, lambda s: s["acked"] + s["parked"] >= 6 and s["in_flight"] == 0, 20
        )
        assert settled["parked"] >= 2, settled  # deliveries 4 and 6 (1-2 came under ack-all)
        await repl.choose(11)
        await repl.printed("consuming · parks every 2nd")
        assert "stopped" not in repl.output
