"""gate-repl driven through prompt-toolkit pipe input against real clusters: every option, bad
input everywhere, Ctrl+C and Ctrl+D."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.cluster_harness import RunningCluster
from tests.console.repl_driver import ReplDriver, running_repl

CTRL_C, CTRL_D = "\x03", "\x04"


async def _step(repl: ReplDriver, option: int | str, *answers: tuple[str, str]) -> None:
    await repl.choose(option)
    for prompt, text in answers:
        await repl.answer(prompt, text)


async def test_every_menu_option_and_bad_input(cluster: RunningCluster) -> None:
    async with running_repl(cluster.url) as (repl, shell):
        await repl.choose(4)
        await repl.printed("⚠️  No active observers")
        await repl.printed("Enter: menu · 1-6 observe · 7-9 produce")  # a reminder, not 30 lines
        assert "(1-36)" in (repl.terminal.asking or "")  # every option, not the classic 15
        await repl.choose("x")
        await repl.printed("❌ Invalid choice 'x'. Please type a number from 1 to 36.")
        await repl.choose("٣")  # int() reads it as 3
        await repl.printed("❌ Invalid choice '٣'. Please type a number from 1 to 36.")
        await repl.choose("")
        await repl.printed("========== Gate Interactive Console ==========\n📊 Observers:")

        # 1-3: observers by stream, type and payload, with their bad inputs.
        # Each bad answer is one ❌ line and the same question again (issue #15, point 9).
        await _step(repl, 1, ("Enter stream name (or $all): ", "x" * 300))
        await repl.printed("❌ a stream id has at most 256 characters")
        await repl.answer("Enter stream name (or $all): ", "$all")
        await repl.answer("Enter observer name (default reg_gh:$all): ", "")
        await repl.printed("✅ Observer 'reg_gh:$all' created for stream '$all'")
        await _step(repl, 2, ("Enter event type: ", "99"))
        await repl.printed("❌ '99' is not one of the 15 listed")
        await repl.answer("Enter event type: ", "2")
        await repl.answer("(default reg_gh:temperature_measured:v1): ", "reg_gh:$all")
        await repl.printed("❌ an observer named 'reg_gh:$all' exists already; pick another name")
        await repl.answer("Enter observer name ", "temps")
        await repl.printed("✅ Observer 'temps' created for event type 'temperature_measured:v1'")
        await _step(repl, 3, ("Enter observer name (default reg_gh:payload): ", "john"))
        await repl.answer("Pattern: ", "%{operator: John}")
        await repl.printed("❌ expected a value")
        await repl.answer("Pattern: ", "%{}")
        await repl.printed("❌ an empty pattern would match every event")
        await repl.answer("Pattern: ", '%{operator: "John"}')
        await repl.printed("✅ Observer 'john' created for payload pattern %{operator: \"John\"}")

        # 13 and 24: appends, random and chosen.
        await _step(repl, 13, ("Enter stream name: ", "repl-1"), ("append (default 5)", "abc"))
        await repl.printed("❌ number of events must be a whole number from 1 to 1000, not 'abc'")
        await repl.answer("append (default 5)", "")
        await repl.printed("✅ Appended 5 events to 'repl-1' (now at version 4)")
        await _step(repl, 24, ("Enter stream name: ", "repl-1"), ("Enter event type: ", "1"))
        await repl.printed("❌ repl-1 is initialized already (at version 0)")
        await repl.answer("Enter event type: ", "desired_temperature_set:v1")
        await repl.answer("Data: ", "%{temperature: hot}")
        await repl.printed("❌ expected a value")
        await repl.answer("Data: ", "%{temperature: 20}")
        await repl.printed("❌ ")  # the catalogue's schema wants an operator too
        await repl.answer("Data: ", '%{temperature: 20, operator: "John"}')
        await repl.printed("✅ Appended desired_temperature_set:v1 to 'repl-1' at version 5")

        # 5: monitor until Ctrl+C, then back at the menu.
        await _step(repl, 5, ("Enter observer name to monitor: ", "john"))
        await repl.printed(
            'SEEN ["repl-1:desired_temperature_set:v1 (v5) => '
            '%{temperature: 20, operator: \\"John\\"}"]'
        )
        repl.keys.send_text(CTRL_C)
        await repl.printed("Stopped monitoring john")
        await _step(repl, 5, ("Enter observer name to monitor: ", "ghost"))
        await repl.printed("❌ no observer named 'ghost' (observers: reg_gh:$all, temps, john)")
        await repl.answer("Enter observer name to monitor: ", "")  # empty: back to the menu
        await repl.printed("⚠️  Cancelled")
        await repl.choose(4)
        await repl.printed('by_event_payload %{operator: "John"}')
        await _step(repl, 6, ("Enter observer name to stop: ", "tmps"))
        await repl.printed("❌ no observer named 'tmps'")
        await repl.answer("Enter observer name to stop: ", "temps")
        await repl.printed("✅ Observer 'temps' stopped")

        # 7-9: producers.
        await _step(repl, 7, ("Number of producers (default 3): ", "two"))
        await repl.printed("❌ number of producers must be a whole number from 1 to 100, not 'two'")
        await repl.answer("Number of producers (default 3): ", "2")
        await repl.printed("✅ Started 2 producers: greenhouse-1, greenhouse-2 (5.0/s each)")
        await repl.choose(9)
        await repl.printed("🟢 running")
        await _step(repl, 8, ("Enter stream ID to stop producer: ", "greenhouse-1"))
        await repl.printed("✅ Producer for 'greenhouse-1' stopped")
        await _step(repl, 8, ("Enter stream ID to stop producer: ", "nope"))
        await repl.printed("❌ no producer is running on 'nope' (running: greenhouse-2)")
        repl.keys.send_text(CTRL_D)  # Ctrl+D at a question: back to the menu, not the end
        await repl.printed("⚠️  Cancelled")

        # 10-11: a subscription consumed here, and its RECEIVED lines.
        await _step(repl, 10, ("Enter subscription name: ", "repl sub"))
        await repl.printed("❌ 'repl sub' cannot name a subscription: 1-128 characters of A-Z")
        await repl.answer("Enter subscription name: ", "repl_sub")
        await repl.answer("Enter stream name: ", "$")
        await repl.printed("❌ '$' is not a stream id")
        await repl.answer("Enter stream name: ", "repl-1")
        # Issue #15: a number past 64 bits or below 0 is a ❌ line naming the field and the range.
        for typed, line in (
            ("x", "❌ start version must be a whole number from 0 to 9223372036854775807, not 'x'"),
            (
                "99999999999999999999999",
                "❌ start version must be a whole number from 0 to 9223372036854775807",
            ),
            ("-5", "❌ start version must be at least 0"),
        ):
            await repl.answer("Start from version (default 0): ", typed)
            await repl.printed(line)
            assert "Unexpected error" not in repl.since_mark()
        await repl.answer("Start from version (default 0): ", "")
        await repl.printed("✅ Subscription 'repl_sub' created on 'repl-1' from 0")
        await repl.choose(11)
        await repl.printed("by_stream $repl-1")
        await _step(repl, 5, ("Enter observer name to monitor: ", "repl_sub"))
        await repl.printed('RECEIVED ["repl_sub" "repl-1:desired_temperature_set:v1 v(5) => ')
        repl.keys.send_text(CTRL_C)
        await repl.printed("Stopped monitoring repl_sub")

        # 12, 25: reading; 14, 16: cluster; 23: greenhouse and snapshots.
        await _step(repl, 12, ("Enter stream name: ", "repl-1"), ("to fetch (default 10)", "3"))
        await repl.printed("📄 Events from 'repl-1' (version 5):")
        assert "v2 " in repl.since_mark() and "v3 " not in repl.since_mark()
        # An unknown stream is refused at once, not after the count (issue #15, point 9).
        await _step(repl, 12, ("Enter stream name: ", "no-such"))
        await repl.printed(
            "❌ there is no stream 'no-such' yet (streams: greenhouse-1, greenhouse-2, repl-1)"
        )
        await repl.answer("Enter stream name: ", "")
        await repl.printed("⚠️  Cancelled")
        await _step(repl, 25, ("Enter stream name: ", "$all"))  # refused at the first question
        await repl.printed("❌ '$all' is not a stream id; type one such as greenhouse-1")
        await repl.answer("Enter stream name: ", "repl-1")
        await repl.answer("Direction", "sideways")
        await repl.printed("❌ 'sideways' is not a direction")
        await repl.answer("Direction", "b")
        await repl.answer("Start from version (default the last event): ", "-1")
        await repl.printed("❌ start version must be at least 0")
        await repl.answer("Start from version (default the last event): ", "")
        await repl.answer("to fetch (default 10)", "0")
        await repl.printed("❌ number of events must be at least 1")
        await repl.answer("to fetch (default 10)", "2")
        await repl.printed("v4 ")
        assert repl.since_mark().index("v5 ") < repl.since_mark().index("v4 ")
        await repl.choose(14)
        await repl.printed("Leader: node1 (term")
        assert "node3" in repl.since_mark() and "🟢 up" in repl.since_mark()
        await _step(repl, 16, ("Enter node id: ", "node2"))
        await repl.printed("Fresh for reads")
        await repl.printed("Restarted by gateway  never")
        # Its inside, as the dashboard's Cluster panel shows it.
        assert re.search(r"Election timer\s+times out in \d+/\d+ ms", repl.since_mark())
        assert re.search(r"Leader's match/next\s+leader node1: match \d+, next ", repl.since_mark())
        assert re.search(r"Uptime\s+\d+(s|m)", repl.since_mark())
        await _step(repl, 16, ("Enter node id: ", "node7"))
        await repl.printed("❌ no node 'node7' in this cluster")
        await repl.answer("Enter node id: ", "node2")
        await repl.printed("Fresh for reads")
        await _step(repl, 23, ("Enter stream name: ", "repl-1"), ("(y/N): ", "maybe"))
        await repl.printed("❌ type y or n, not 'maybe'")
        await repl.answer("Take a snapshot now? (y/N): ", "y")
        await repl.printed("✅ Snapshot of 'repl-1' recorded at version 5")

        # Ctrl+C at a question cancels the option; Ctrl+D at the menu ends the session.
        await repl.choose(1)
        await repl.answer("Enter stream name (or $all): ", CTRL_C)
        await repl.printed("⚠️  Cancelled")
        await repl.answer("Select an option", CTRL_D)
        assert await shell == 0
        tail = repl.since_mark()
        assert "🛑 Stopped producer: greenhouse-2" in tail
        assert "🛑 Stopped consumer of subscription: repl_sub" in tail
        assert "✅ Console shut down successfully!" in tail
        assert "Traceback" not in repl.output


async def test_cluster_lab_node_actions_and_a_vanished_engine(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    cluster = await make_cluster()
    async with running_repl(cluster.url) as (repl, shell):
        await _step(repl, 18, ("Enter node id (default: the leader): ", "node2"), ("Kill ", "n"))
        await repl.printed("↩️  node2 left as it was")
        await _step(repl, 17, ("(default: the leader): ", "node3"), ("Stop node3? (y/N): ", "y"))
        await repl.printed("✅ Stopped node3; leader node1")
        # Start and Resume default to the only node they fit (issue #15, point 9).
        await _step(repl, 19, ("Enter node id (default: node3): ", ""))
        await repl.printed("✅ Started node3; leader node1")
        await _step(
            repl, 18, ("Enter node id (default: the leader): ", ""), ("(the leader)? (y/N)", "yes")
        )
        await repl.printed("✅ Killed node1 (the leader); node")
        assert "took over in" in repl.since_mark()
        await _step(repl, 19, ("Enter node id (default: node1): ", "node9"))
        await repl.printed("❌ no node 'node9' in this cluster (nodes: node1, node2, node3)")
        await repl.answer("Enter node id (default: node1): ", "")
        await repl.printed("✅ Started node1; leader node")
        await _step(repl, 20, ("Enter node id (default: the leader): ", "node1"))
        await repl.printed("✅ Restarted node1")
        await _step(repl, 21, ("Enter node id (default: the leader): ", "node1"))
        await repl.printed("✅ Paused node1")
        await repl.choose(14)
        await repl.printed("★ leader · ☆ preferred leader")
        assert "paused" in repl.since_mark()  # not "down": the gateway knows it is paused
        await _step(repl, 22, ("Enter node id (default: node1): ", ""))
        await repl.printed("✅ Resumed node1")
        # Every node up: no default, and an empty answer goes back to the menu.
        await _step(repl, 19, ("Enter node id: ", ""))
        await repl.printed("⚠️  Cancelled")

        await cluster.embedded.stop()
        await repl.choose(12)  # listing the streams fails already
        await repl.printed("❌ The engine is not answering: cannot reach the gateway at")
        await repl.choose(14)
        await repl.printed("❌ The engine is not answering")
        await repl.choose(15)
        assert await shell == 0
        assert "Traceback" not in repl.output
