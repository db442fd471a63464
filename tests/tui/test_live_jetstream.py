"""The real dashboard against a gateway with ``backend: jetstream`` over three real
nats-servers, driven by key presses (Textual pilot): the path of tests/tui/test_live.py where
it applies to JetStream (docs/CONSOLE.md, "On JetStream").

The Cluster panel shows the servers and the meta leader, producers append and the feed shows
their events, the streams panel browses them, this console consumes a subscription, and a
server killed with SIGKILL shows down while the timeline names the new meta leader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, RichLog, Static

from console.ops.cluster import ClusterStatus
from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.ops.subscriptions import JETSTREAM_COUNTERS_NOTE
from console.tui.app import GateConsole
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.streams.panel import StreamsPanel
from console.tui.subscriptions.panel import SubscriptionsPanel
from tests.jetstream_cluster import JetStreamGateway, jetstream_config, jetstream_gateway
from tests.tui.test_live import SIZE, feed_text, toasts, until

SERVERS = ["nats1", "nats2", "nats3"]


@pytest.fixture
async def open_ops() -> AsyncIterator[Callable[[JetStreamGateway], Awaitable[Operations]]]:
    """Operations attached (``--connect``) to a JetStream-backed gateway; closed after."""
    opened: list[Operations] = []

    async def open_for(gateway: JetStreamGateway) -> Operations:
        ops = await Operations.open(
            SessionOptions(connect=gateway.url), seed=7, health_interval=0.2
        )
        opened.append(ops)
        return ops

    yield open_for
    for ops in opened:
        await ops.close()


def status_of(app: GateConsole) -> ClusterStatus | None:
    return app.ops.health.latest.status if app.ops.health.latest else None


def timeline(app: GateConsole) -> str:
    return "\n".join(strip.text for strip in app.query_one("#timeline", RichLog).lines)


async def test_the_dashboard_over_jetstream(
    jetstream_cluster: JetStreamGateway,
    open_ops: Callable[[JetStreamGateway], Awaitable[Operations]],
) -> None:
    ops = await open_ops(jetstream_cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        # The Cluster panel: the three servers, the meta leader marked and named in its role.
        nodes = app.query_one("#nodes", DataTable)
        await until(pilot, lambda: nodes.row_count == 3, "the server table")
        await until(
            pilot, lambda: (s := status_of(app)) is not None and s.leader is not None, "a leader"
        )
        status = status_of(app)
        assert status is not None and status.jetstream and status.leader in SERVERS
        assert sorted(str(key.value) for key in nodes.rows) == SERVERS
        assert "leader" in str(nodes.get_row(status.leader)[1])
        # Its legend: no log positions, which nats-servers do not report.
        legend = str(app.query_one("#node-legend", Static).render())
        assert legend.startswith("★ meta leader · lag: messages"), legend
        header = app.query_one("#status-text", Static)
        await until(
            pilot, lambda: status.leader in str(header.render()), "the leader in the header"
        )

        # An observer of $all, then three producers: their events reach the feed.
        await pilot.press("3", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the observer dialog")
        await pilot.press("enter")
        await until(pilot, lambda: "reg_gh:$all" in ops.observers.names(), "the observer")
        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the producers dialog")
        await pilot.press("enter")
        await until(pilot, lambda: len(ops.producers.running()) == 3, "three producers")
        await until(
            pilot,
            lambda: any(t.startswith('SEEN ["greenhouse-') for t in feed_text(app)),
            "producer events in the feed",
        )

        # A subscription consumed here; its footnote says where JetStream's counts live.
        await pilot.press("5", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the subscription dialog")
        await pilot.press(*"js_sub", "enter")
        panel = app.query_one(SubscriptionsPanel)
        await until(pilot, lambda: "js_sub" in panel.table.rows, "the subscription row")
        await until(
            pilot,
            lambda: any(t.startswith('RECEIVED ["js_sub"') for t in feed_text(app)),
            "the consumer's events in the feed",
        )
        assert panel.note == JETSTREAM_COUNTERS_NOTE

        # The streams panel lists the producers' streams and opens one on a page of events.
        await pilot.press("6")
        streams = app.query_one(StreamsPanel)
        await until(pilot, lambda: streams.page is not None, "a page of the first stream")
        await until(pilot, lambda: len(streams._numbers()) > 0, "events on the page")
        numbers, page = streams._numbers(), streams.page
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, no gap
        assert page is not None and page.stream_id.startswith("greenhouse-")
        assert {event["stream_id"] for event in page.events} == {page.stream_id}

        # The live verdict reads the producers' writes back through the gateway.
        await until(
            pilot,
            lambda: ops.verdict.latest is not None and ops.verdict.latest.checked > 0,
            "the verdict to check some writes",
            30,
        )
        assert not ops.verdict.unreadable and ops.verdict.latest.first is None
        # Back on the Cluster panel: the selected server's words, and why it has no node log.
        await pilot.press("1")
        selected = str(nodes.coordinate_to_cell_key(nodes.cursor_coordinate).row_key.value)
        inside = app.query_one("#node-inside", Static)
        await until(
            pilot, lambda: str(inside.content).startswith(f"{selected}: "), "the server's words"
        )
        assert "voted" not in str(inside.content) and " · up " in str(inside.content)
        pane = app.query_one("#node-log", RichLog)
        await until(
            pilot,
            lambda: any(
                "backend jetstream: a nats-server's log is its own" in strip.text
                for strip in pane.lines
            ),
            "the node log's one line",
        )
        await pilot.press("ctrl+q")


async def test_a_server_killed_shows_down_and_the_timeline_names_the_new_leader(
    tmp_path: Path, open_ops: Callable[[JetStreamGateway], Awaitable[Operations]]
) -> None:
    async with jetstream_gateway(tmp_path, jetstream_config(tmp_path)) as gateway:
        ops = await open_ops(gateway)
        app = GateConsole(ops, blink=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            nodes = app.query_one("#nodes", DataTable)
            await until(pilot, lambda: nodes.row_count == 3, "the server table")
            await until(
                pilot,
                lambda: (s := status_of(app)) is not None and s.leader is not None,
                "a leader",
            )
            status = status_of(app)
            assert status is not None
            old_leader = status.leader
            nodes.move_cursor(row=nodes.get_row_index(old_leader))
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
            await pilot.press("y")

            def new_leader() -> bool:
                current = status_of(app)
                return current is not None and current.leader not in (None, old_leader)

            await until(pilot, new_leader, "a new meta leader", timeout=60)
            await until(pilot, lambda: app.last_message.startswith("✅ Killed"), "the report", 60)
            current = status_of(app)
            assert current is not None
            assert f"{old_leader} (the leader); {current.leader} took over in" in app.last_message
            await until(
                pilot,
                lambda: any(f"{current.leader} took over" in t for t in toasts(app)),
                "the toast naming the new leader",
            )
            await until(pilot, lambda: f"{old_leader} down" in timeline(app), "the server down")
            await until(
                pilot, lambda: f"new leader: {current.leader}" in timeline(app), "the timeline"
            )
            assert "down" in str(nodes.get_row(old_leader)[1])
            await pilot.press("ctrl+q")
