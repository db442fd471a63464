"""Option 28, Node Log: a node's newest log lines in the menu shell, against a real cluster (the
dashboard shows the same in its Cluster panel)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.cluster_harness import RunningCluster
from tests.console.repl_driver import running_repl

_LINE = re.compile(r"^\d\d:\d\d:\d\d \S", re.MULTILINE)


async def test_node_log_option(make_cluster: Callable[..., Awaitable[RunningCluster]]) -> None:
    cluster = await make_cluster()
    leader = await cluster.leader()
    async with running_repl(cluster.url) as (repl, _shell):
        # Empty: the leader's log, which tells how it became leader.
        await repl.choose(28)
        await repl.answer(f"Enter node id (default: {leader}): ", "")
        await repl.answer("Number of lines (default 20): ", "")
        await repl.asks("Select an option")
        shown = repl.since_mark()
        assert re.search(rf"📜 The newest \d+ lines of {leader}'s log:", shown), shown
        assert "became leader for term" in shown, shown

        # A bad node and a bad count are asked again; then exactly the lines asked for.
        follower = next(n for n in ("node1", "node2", "node3") if n != leader)
        await repl.choose(28)
        await repl.answer("Enter node id", "node9")
        await repl.printed("❌ no node 'node9' in this cluster (nodes: node1, node2, node3)")
        await repl.answer("Enter node id", follower)
        await repl.answer("Number of lines (default 20): ", "0")
        await repl.printed("❌ number of lines must be at least 1")
        await repl.answer("Number of lines (default 20): ", "3")
        await repl.printed(f"📜 The newest 3 lines of {follower}'s log:")
        await repl.asks("Select an option")
        assert len(_LINE.findall(repl.since_mark())) == 3, repl.since_mark()

        # A paused node does not answer: one ❌ line, and the menu again.
        await repl.choose(21)
        await repl.answer("Enter node id (default: the leader): ", follower)
        await repl.printed(f"✅ Paused {follower}")
        await repl.choose(28)
        await repl.answer("Enter node id", follower)
        await repl.answer("Number of lines (default 20): ", "")
        await repl.printed(f"❌ {follower} does not answer (down, paused or unreachable)")
        await repl.asks("Select an option")
        assert "Traceback" not in repl.output
