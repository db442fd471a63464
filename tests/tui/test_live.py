"""The real dashboard against a real background cluster, driven by key presses (Textual pilot).

A person's path through it: create an observer, start producers and see their events in the
feed, create a subscription and see this console consume it, kill the leader and see the new one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Static
from textual.widgets._toast import Toast

from console.ops.cluster import ClusterStatus
from console.ops.messages import TraceLine
from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.ops.subscriptions import ConsumerPolicy
from console.tui.app import GateConsole
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.form import FormDialog
from console.tui.feed.panel import FeedPanel
from console.tui.messages.panel import MessagesPanel, message_id
from console.tui.streams.paging import PAGE_SIZE
from console.tui.streams.panel import StreamsPanel
from console.tui.subscriptions.panel import SubscriptionsPanel
from tests.cluster_harness import RunningCluster

SIZE = (120, 40)


async def until(
    pilot: Pilot[Any], ok: Callable[[], bool], what: str, timeout: float = 15.0
) -> None:
    """Let the app run until ``ok()``; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture
async def open_ops() -> AsyncIterator[Callable[[RunningCluster], Awaitable[Operations]]]:
    """Operations attached (``--connect``) to a test cluster; closed after the test."""
    opened: list[Operations] = []

    async def open_for(cluster: RunningCluster) -> Operations:
        ops = await Operations.open(
            SessionOptions(connect=cluster.url), seed=7, health_interval=0.2
        )
        opened.append(ops)
        return ops

    yield open_for
    for ops in opened:
        await ops.close()


def toasts(app: GateConsole) -> list[str]:
    """The texts of the notifications on the screen now."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


def feed_text(app: GateConsole) -> list[str]:
    """The lines the feed holds."""
    return [line.text for line in app.query_one(FeedPanel).retained]


async def test_producers_observer_and_subscription(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        # An observer of $all, with the dialog's defaults.
        await pilot.press("3", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the observer dialog")
        await pilot.press("enter")
        await until(pilot, lambda: "reg_gh:$all" in ops.observers.names(), "the observer")
        assert "✅ Observer 'reg_gh:$all' created" in app.last_message

        # Three producers (the default), then their events in the feed.
        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the producers dialog")
        await pilot.press("enter")
        await until(pilot, lambda: len(ops.producers.running()) == 3, "three producers")
        await until(
            pilot,
            lambda: any(t.startswith('SEEN ["greenhouse-') for t in feed_text(app)),
            "producer events in the feed",
        )
        table = app.query_one("#producers-panel DataTable", DataTable)
        await until(pilot, lambda: table.row_count == 3, "the producers table")

        # A subscription, consumed and acked by this console.
        await pilot.press("5", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the subscription dialog")
        await pilot.press(*"live_sub", "enter")
        subscriptions = app.query_one(SubscriptionsPanel).table
        await until(pilot, lambda: "live_sub" in subscriptions.rows, "the subscription row")
        await until(
            pilot,
            lambda: any(t.startswith('RECEIVED ["live_sub"') for t in feed_text(app)),
            "the consumer's events in the feed",
        )

        # The feed filter keeps only matching lines.
        await pilot.press("slash", *"sub")
        panel = app.query_one(FeedPanel)
        assert panel.needle == "sub"
        shown = [strip.text for strip in panel.query_one("#feed-log", RichLog).lines]
        assert shown
        # A long line wraps under its source's column: its first row names the source.
        assert all("sub" in line for line in shown if not line.startswith(" "))
        await pilot.press("escape")
        assert ops.producers.running()  # still producing while we looked around
        await pilot.press("ctrl+q")


async def test_a_huge_start_version_is_a_line_not_a_crash(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    """Issue #15's repro: 5, n, teach_sub, start 99999999999999999999999, Enter."""
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the subscription dialog")
        await pilot.press(*"teach_sub")
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        error = dialog.query_one("#form-error", Static)
        start = dialog.query_one("#field-start", Input)
        for typed, line in (
            ("99999999999999999999999", f"must be a whole number from 0 to {2**63 - 1}"),
            ("-5", "must be at least 0"),
        ):
            start.value = typed
            start.focus()
            await pilot.press("enter")
            await dialog.workers.wait_for_complete()
            await pilot.pause()
            assert str(error.render()) == f"❌ start version {line}"
            assert app.is_running and app.screen is dialog
        assert "teach_sub" not in await ops.subscriptions.names()
        # The dialog stays usable: a good answer creates the subscription.
        start.value = "0"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is not dialog, "the dialog to close")
        assert app.last_message.startswith("✅ Subscription 'teach_sub' created")
        await pilot.press("ctrl+q")


async def test_kill_the_leader_and_see_the_new_one(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    cluster = await make_cluster()
    old_leader = await cluster.leader()
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        nodes = app.query_one("#nodes", DataTable)
        await until(pilot, lambda: nodes.row_count == 3, "the node table")
        nodes.move_cursor(row=nodes.get_row_index(old_leader))
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")

        def status() -> ClusterStatus | None:
            return app.ops.health.latest.status if app.ops.health.latest else None

        def new_leader() -> bool:
            current = status()
            return current is not None and current.leader not in (None, old_leader)

        await until(pilot, new_leader, "a new leader", timeout=30)
        await until(pilot, lambda: app.last_message.startswith("✅ Killed"), "the report")
        current = status()
        assert current is not None
        # The menu shell's words: "Killed node1 (the leader); node2 took over in 1.2 s (term 3)".
        assert f"{old_leader} (the leader); {current.leader} took over in" in app.last_message
        # Shown, not only built: the toast on the screen names the new leader.
        await until(
            pilot,
            lambda: any(f"{current.leader} took over" in t for t in toasts(app)),
            "the toast naming the new leader",
        )

        def timeline() -> str:
            return "\n".join(strip.text for strip in app.query_one("#timeline", RichLog).lines)

        await until(pilot, lambda: f"{old_leader} down" in timeline(), "the node down")
        await until(pilot, lambda: f"new leader: {current.leader}" in timeline(), "the timeline")
        # The view names a new leader as soon as it says so, its row's role at the next probe.
        await until(
            pilot,
            lambda: "leader" in str(nodes.get_row(current.leader)[1]),
            "the new leader's row",
        )
        await pilot.press("ctrl+q")


async def test_a_consumer_outlives_a_lost_quorum(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    """Issue #15: kill 2 of 3 nodes while the dashboard consumes, start them again."""
    cluster = await make_cluster()
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the subscription dialog")
        await pilot.press(*"teach_sub", "enter")
        await until(pilot, lambda: "teach_sub" in ops.subscriptions.consumer_names(), "consuming")
        ops.subscriptions.set_policy("teach_sub", ConsumerPolicy("nack_park", 2))  # what a does
        table = app.query_one(SubscriptionsPanel).table

        def here() -> str:
            return str(table.get_row("teach_sub")[1]) if "teach_sub" in table.rows else ""

        def received() -> int:
            return sum(t.startswith('RECEIVED ["teach_sub" "teach-1:') for t in feed_text(app))

        await until(pilot, lambda: here() == "✓ park 1/2", "the policy in the Here column")
        leader = await cluster.leader()
        follower = next(n.node_id for n in cluster.config.nodes if n.node_id != leader)
        for node in (leader, follower):
            await ops.client.node_action(node, "kill")
        await until(
            pilot,
            lambda: any(t.startswith("⚠️  consumer teach_sub reconnecting") for t in feed_text(app)),
            "the reconnecting line in the feed",
            20,
        )
        await until(pilot, lambda: here() == "↻ reconnecting", "reconnecting in the table", 30)
        await pilot.pause(ops.client.retry_deadline + 1)  # the old consumer gave up by now
        assert ops.subscriptions.consumer("teach_sub").state == "reconnecting"

        for node in (leader, follower):
            await ops.client.node_action(node, "start")
        await until(
            pilot,
            lambda: (
                "✅ consumer teach_sub reconnected: resuming from the checkpoint" in feed_text(app)
            ),
            "the reconnected line",
            30,
        )
        await ops.streams.append_generated("teach-1", 2)
        await until(pilot, lambda: received() >= 2, "new events received", 20)
        await until(pilot, lambda: here() == "✓ park 1/2", "the policy kept", 20)
        assert not any("stopped" in t for t in feed_text(app))

        # c stops consuming here, c again consumes with the same policy.
        await pilot.press("c")
        await until(pilot, lambda: not ops.subscriptions.consumer_names(), "stopped consuming")
        await pilot.press("c")
        await until(pilot, lambda: bool(ops.subscriptions.consumer_names()), "consuming again")
        assert app.last_message == "✅ Consuming 'teach_sub' here; the consumer parks every 2nd"
        await pilot.press("ctrl+q")


async def test_the_node_log_pane_follows_the_selected_node(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    """The Cluster panel's node-log pane on real nodes: the leader's election in its own
    words, then a follower's once the cursor moves to it."""
    ops = await open_ops(cluster)
    leader = await cluster.leader()
    follower = next(n for n in cluster.config.node_ids if n != leader)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        nodes = app.query_one("#nodes", DataTable)
        pane = app.query_one("#node-log", RichLog)
        await until(pilot, lambda: nodes.row_count == 3, "the node table")

        def shown() -> str:
            return "\n".join(strip.text for strip in pane.lines)

        nodes.move_cursor(row=nodes.get_row_index(leader))
        await until(pilot, lambda: "became leader for term" in shown(), "the leader's log")
        assert str(pane.border_title).startswith(f"Log of {leader}")
        nodes.move_cursor(row=nodes.get_row_index(follower))
        await until(pilot, lambda: f"following leader {leader}" in shown(), "the follower's log")
        assert "became leader" not in shown()  # another node's log starts afresh
        await pilot.press("ctrl+q")


async def test_the_open_stream_follows_its_end_and_stays_put_when_scrolled_back(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    """Issue #15, point 4: start producers, press 6: the page follows new events while it shows
    the stream's end and says "following"; a page further back stays put and counts newer ones."""
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the producers dialog")
        await pilot.press("enter")
        await until(pilot, lambda: len(ops.producers.running()) == 3, "three producers")
        await pilot.press("6")
        panel = app.query_one(StreamsPanel)
        title = panel.query_one("#page-title", Static)

        def newest_shown() -> int:
            return max(panel._numbers(), default=-1)

        await until(pilot, lambda: panel.page is not None, "a page of the first stream")
        await pilot.press("v")  # backward from the last event: the stream's end
        await until(pilot, lambda: "following" in str(title.render()), "a following page")
        first = newest_shown()
        await until(pilot, lambda: newest_shown() >= first + 2, "the page to follow new events")
        assert "following" in str(title.render())
        # More than a page of events, so that an older page exists.
        await until(pilot, lambda: newest_shown() > PAGE_SIZE, "a page's worth", timeout=60)

        await pilot.press("right_square_bracket")  # older events: no longer at the end
        await until(pilot, lambda: "following" not in str(title.render()), "an older page")
        held = panel._numbers()
        await until(pilot, lambda: "newer event" in str(title.render()), "a count of newer ones")
        await until(pilot, lambda: panel.latest is not None and panel.latest > first + 3, "growth")
        assert panel._numbers() == held  # scrolled back, the page stays put
        await pilot.press("ctrl+q")


async def test_the_timeline_sees_a_restarted_leader_catch_up(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    """Issue #15, point 11: stop the leader while producers write, start it again: the timeline
    says it is back, then "caught up" once its lag reaches 0, in a later look.

    A node back among live peers catches up within a few hundred milliseconds, about as soon
    as the console's first look at it: so that the first look comes before the catch-up on
    every run, the two other nodes are paused while it starts and resumed once the timeline
    has said it is back.
    """
    cluster = await make_cluster()
    old_leader = await cluster.leader()
    others = [n for n in cluster.config.node_ids if n != old_leader]
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        nodes = app.query_one("#nodes", DataTable)
        await until(pilot, lambda: nodes.row_count == 3, "the node table")
        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the producers dialog")
        await pilot.press("enter")
        await until(pilot, lambda: len(ops.producers.running()) == 3, "three producers")
        await pilot.press("1")

        def status() -> ClusterStatus | None:
            return app.ops.health.latest.status if app.ops.health.latest else None

        def timeline() -> list[str]:
            # Each line without its "+ 12.3s" time.
            lines = [strip.text for strip in app.query_one("#timeline", RichLog).lines]
            return [line.split("s ", 1)[1].rstrip() for line in lines]

        def said(sentence: str) -> bool:
            return sentence in timeline()

        nodes.move_cursor(row=nodes.get_row_index(old_leader))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await until(pilot, lambda: said(f"{old_leader} down (was the leader)"), "the leader down")

        def new_leader() -> str | None:
            current = status()
            return current.leader if current and current.leader != old_leader else None

        await until(pilot, lambda: new_leader() is not None, "a new leader", 30)
        leader = new_leader()
        assert leader is not None

        def committed() -> int:
            current = status()
            return (current.node(leader).commit_position or 0) if current else 0

        missed_from = committed()
        await until(pilot, lambda: committed() >= missed_from + 10, "writes it misses", 30)

        for node in others:
            await ops.client.node_action(node, "pause")
        await pilot.press("t")  # the cursor is still on the stopped node
        back_up = f"{old_leader} back up"
        await until(pilot, lambda: any(s.startswith(back_up) for s in timeline()), "back up", 30)
        back = next(s for s in timeline() if s.startswith(back_up))
        assert "caught up" not in back, timeline()
        # No node can answer a read meanwhile; the gateway's view is shown all the same.
        held = status()
        assert held is not None and held.leader is None and held.node(old_leader).up
        for node in others:
            await ops.client.node_action(node, "resume")
        await until(pilot, lambda: said(f"{old_leader} caught up"), "caught up", 30)
        lines = timeline()
        assert lines.index(back) < lines.index(f"{old_leader} caught up")
        await pilot.press("ctrl+q")


async def test_the_tempo_keys_slow_the_real_cluster_down_and_the_header_says_so(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    cluster = await make_cluster()
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        header = app.query_one("#status-text", Static)
        await until(pilot, lambda: "leader" in str(header.render()), "the header")
        assert "tempo" not in str(header.render())

        def timeline() -> str:
            return "\n".join(strip.text for strip in app.query_one("#timeline", RichLog).lines)

        await pilot.press("minus")  # 1 -> 2
        await until(pilot, lambda: app.last_message.startswith("✅ tempo ×1/2"), "the report")
        await pilot.press("minus")  # 2 -> 5
        await until(pilot, lambda: "tempo ×1/5" in str(header.render()), "tempo in the header")
        await until(pilot, lambda: "tempo ×1/5: slow motion" in timeline(), "the timeline")
        async with cluster.new_client() as client:
            assert (await client.tempo())["scale"] == 5
        await pilot.press("plus")  # 5 -> 2
        await until(pilot, lambda: app.last_message.startswith("✅ tempo ×1/2"), "one faster")
        await pilot.press("equals_sign")
        await until(pilot, lambda: app.last_message == "✅ tempo ×1: full speed again", "full")
        await until(pilot, lambda: "tempo" not in str(header.render()), "the header at x1")
        async with cluster.new_client() as client:
            assert (await client.tempo())["scale"] == 1
        await pilot.press("ctrl+q")


async def test_the_messages_panel_draws_the_cluster_s_raft_messages(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    """Key 7 on a real cluster: heartbeats, then a write's AppendEntries from the leader with
    its answers; leaving the panel stops asking for them."""
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    leader = await cluster.leader()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        panel = app.query_one(MessagesPanel)
        await until(pilot, lambda: any(ln.kind == "heartbeats" for ln in panel.lines), "heartbeats")
        assert ops.messages.watching
        await ops.client.append("reg_gh", "messages-live", [{"event_type": "t", "data": {}}])

        def replicated() -> bool:
            return any(
                ln.type == "append" and ln.frm == leader and ln.text.startswith("AppendEntries")
                for ln in panel.lines
            )

        await until(pilot, replicated, "the write's AppendEntries")
        assert panel.nodes == sorted(cluster.config.node_ids)
        await pilot.press("up")
        detail = str(app.query_one("#message-detail", Static).render())
        assert "term" in detail
        await pilot.press("1")
        await until(pilot, lambda: not ops.messages.watching, "the trace to stop")


async def test_d_drops_a_heartbeat_in_flight_on_a_real_cluster(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    """Slow motion alone, as a teacher has it: at tempo 20 each message flies 0.95 s, the panel
    asks for every heartbeat, and while it follows the newest row is selected, so d pressed as a
    heartbeat's arrow appears drops it on its way.  Its row is marked, the timeline says so, and
    the same row again is one line: it has gone; so is one that has arrived."""
    cluster = await make_cluster()
    ops = await open_ops(cluster)
    leader = await cluster.leader()
    await ops.client.set_tempo(20)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        panel = app.query_one(MessagesPanel)
        await until(pilot, lambda: ops.messages.unfolded, "heartbeats unfolded at tempo 20")

        def newest_heartbeat() -> TraceLine | None:
            """The newest row, if it is a heartbeat of the leader's not tried yet."""
            line = panel.selected
            if line is None or line.kind != "message" or line.frm != leader:
                return None
            fields = dict(line.fields)
            if fields.get("entries") != 0 or (leader, fields.get("seq")) in tried:
                return None
            return line

        tried: set[tuple[str, Any]] = set()
        # A teacher's reflex, not a machine's: a loaded machine may show a row late, so the
        # next heartbeat is tried if one has arrived by the time d reaches its sender.  Rows
        # may come between the check and the key: d drops whatever is selected then.
        for _ in range(5):
            await until(pilot, lambda: newest_heartbeat() is not None, "a heartbeat's arrow", 30)
            line = newest_heartbeat()
            assert line is not None and panel.following
            tried.add(message_id(line))
            app.last_message = ""
            await pilot.press("d")
            await until(pilot, lambda: app.last_message != "", "the drop's answer", 10)
            if "dropped in flight" in app.last_message:
                break
            assert "has arrived already" in app.last_message, app.last_message
        else:
            raise AssertionError("no heartbeat dropped on its way in 5 tries")
        (dropped,) = panel.dropped
        line = next(ln for ln in panel.lines if ln.kind == "message" and message_id(ln) == dropped)
        timeline = "\n".join(strip.text for strip in app.query_one("#timeline", RichLog).lines)
        assert f"✗ {line.frm} → {line.to} {line.text}" in timeline, timeline
        row = next(n for n, shown in enumerate(panel.lines) if shown is line)
        panel.table.move_cursor(row=row)
        await pilot.press("d")  # the same row: dropped already
        await until(pilot, lambda: "was dropped already" in app.last_message, "refused", 10)

        # A message that has arrived: one of the leader's sent well over a flight (0.95 s) ago.
        def arrived() -> int | None:
            return next(
                (
                    n
                    for n, ln in enumerate(panel.lines)
                    if ln.kind == "message"
                    and ln.frm == leader
                    and ln.time < time.time() - 3
                    and message_id(ln) != dropped
                ),
                None,
            )

        await until(pilot, lambda: arrived() is not None, "a message 3 s old", 30)
        other = arrived()
        assert other is not None
        panel.table.move_cursor(row=other)
        await pilot.press("d")
        await until(pilot, lambda: "has arrived already" in app.last_message, "gone", 10)
        await pilot.press("ctrl+q")
