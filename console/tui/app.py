"""``GateConsole``: the dashboard app, wiring the panels to the operations layer.

Live data never reaches a widget one event at a time.  Observers and consumers write into their
bounded line buffers and the health monitor keeps its latest sample; a timer drains all of it
about 15 times a second inside one ``batch_update()``, and tables change by diff.  Lists that
need a request to the gateway (subscriptions, streams) are polled once a second in a worker.

The app takes an :class:`~console.ops.operations.Operations` (or anything shaped like it), so
tests hand it recorded, fixed data and the screen comes out the same every time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent, TabPane

from console.ops.cluster import ClusterStatus, HealthSample, NodeLogFollower
from console.ops.errors import OpsError
from console.ops.line_feed import LineFeed
from console.ops.operations import Operations
from console.ops.streams import StreamPage, StreamRow
from console.ops.subscriptions import SubscriptionRow
from console.tui.cluster.panel import ClusterPanel
from console.tui.cluster.timeline import Timeline
from console.tui.dialogs import create
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.consumer_policy import consumer_policy
from console.tui.dialogs.form import FormDialog
from console.tui.feed.collector import FeedCollector
from console.tui.feed.panel import FeedPanel
from console.tui.footer import GateFooter
from console.tui.help import HelpScreen
from console.tui.observers.panel import ObserversPanel, observer_rows
from console.tui.producers.panel import ProducersPanel, producer_rows
from console.tui.requests import NODE_ACTIONS, OPERATIONS, Requested
from console.tui.size_notice import SizeNotice, too_small
from console.tui.status_bar import StatusBar
from console.tui.streams.greenhouse import GreenhouseScreen
from console.tui.streams.paging import PageRequest
from console.tui.streams.panel import StreamsPanel
from console.tui.subscriptions.panel import SubscriptionsPanel, subscription_rows
from engine.client import GateError

PANELS = (
    ("cluster", "Cluster"),
    ("feed", "Feed"),
    ("observers", "Observers"),
    ("producers", "Producers"),
    ("subscriptions", "Subscriptions"),
    ("streams", "Streams"),
)
DRAIN_HZ = 10.0  # screen refreshes of live data per second
TABLE_EVERY = 4  # observers/producers tables: every 4th drain (2.5 Hz)
POLL_SECONDS = 1.0  # subscriptions and streams: one request each per second
NODE_LOG_SECONDS = 0.5  # the selected node's log: new lines twice a second
CONSUMER_PREFIX = "sub "  # feed sources of this console's subscription consumers
_PAST_TENSE = {"stop": "stopped", "kill": "killed", "pause": "paused", "resume": "resumed"}
# The node actions asked about first (with confirmations on), and what the question adds.
_CONFIRM_NODE = {
    "kill": "SIGKILL: the process dies at once; t starts it again.",
    "stop": "A graceful stop; t starts it again.",
}


def _pane_of(widget: Widget) -> TabPane | None:
    """The panel a widget is in, if any."""
    return next((node for node in widget.ancestors if isinstance(node, TabPane)), None)


class GateConsole(App[None]):
    """The full-screen dashboard of docs/CONSOLE.md."""

    CSS_PATH = Path(__file__).with_name("gate.tcss")  # absolute: subclasses live elsewhere
    TITLE = "Gate console"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(number), f"show_panel('{panel}')", title, show=False)
            for number, (panel, title) in enumerate(PANELS, 1)
        ),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter_feed", "Filter", show=False),
    ]

    def __init__(self, ops: Operations, *, blink: bool = True, confirm: bool = True) -> None:
        super().__init__()
        self.ops = ops
        self.blink = blink
        self.confirm = confirm  # off (gate-console --yes) for scripted demos
        self.collector = FeedCollector()
        self.muted: set[str] = set()  # feed sources a person took out of the feed
        self._health_seen = -1
        self._last_status: ClusterStatus | None = None
        self.timeline = Timeline()
        self._first_sample_at: float | None = None
        self._ticks = 0
        self.last_message = ""  # the latest operation outcome (tests and the bench read it)
        self.node_log = NodeLogFollower(ops.cluster)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ops.url, id="status-bar")
        with TabbedContent(id="panels"):
            with TabPane("Cluster", id="cluster"):
                yield ClusterPanel(id="cluster-panel")
            with TabPane("Feed", id="feed"):
                yield FeedPanel(id="feed-panel")
            with TabPane("Observers", id="observers"):
                yield ObserversPanel(id="observers-panel")
            with TabPane("Producers", id="producers"):
                yield ProducersPanel(id="producers-panel")
            with TabPane("Subscriptions", id="subscriptions"):
                yield SubscriptionsPanel(id="subscriptions-panel")
            with TabPane("Streams", id="streams"):
                yield StreamsPanel(self.ops.streams, id="streams-panel")
        yield GateFooter(compact=True)

    def on_mount(self) -> None:
        self.drain(tables=True)
        self.set_interval(1 / DRAIN_HZ, self.drain)
        self.set_interval(POLL_SECONDS, self.poll)
        self.set_interval(NODE_LOG_SECONDS, self._follow_node_log)
        self.poll()
        self.query_one("#cluster-panel DataTable", DataTable).focus()
        self._check_size(self.size)

    # -- terminal size -----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """A terminal that shrank below the minimum gets the size notice."""
        self._check_size(event.size)

    def _check_size(self, size: Size) -> None:
        if too_small(size) and not self._size_notice_shown():
            self.push_screen(SizeNotice())

    def _size_notice_shown(self) -> bool:
        return any(isinstance(screen, SizeNotice) for screen in self.screen_stack)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the size notice is up, the app's keys wait (Ctrl+Q still quits)."""
        if isinstance(self.screen, SizeNotice) and action != "quit":
            return False
        return super().check_action(action, parameters)

    # -- live data ---------------------------------------------------------------------------

    def feed_sources(self) -> dict[str, LineFeed]:
        """The line buffers the feed shows: observers, then this console's consumers."""
        sources: dict[str, LineFeed] = {}
        for name in self.ops.observers.names():
            if name not in self.muted:
                sources[name] = self.ops.observers.get(name).feed
        for name in self.ops.subscriptions.consumer_names():
            key = CONSUMER_PREFIX + name
            if key not in self.muted:
                sources[key] = self.ops.subscriptions.consumer(name).feed
        return sources

    def drain(self, tables: bool = False) -> None:
        """Move everything new from the buffers to the screen, in one batch."""
        if not self._dashboard_shown():
            return
        self._ticks += 1
        with self.batch_update():
            self._show_health(self.ops.health.latest)
            sources = self.feed_sources()
            feed = self.query_one(FeedPanel)
            feed.set_sources(list(sources))
            drained = self.collector.drain(sources)
            if drained.lines or drained.missed:
                visible = self.query_one(TabbedContent).active == "feed"
                feed.add_lines(drained.lines, drained.missed, visible=visible)
            if tables or self._ticks % TABLE_EVERY == 0:
                self._show_tables()

    def _dashboard_shown(self) -> bool:
        """False once the app has stopped running: when it closes, its widgets go one by one,
        and a timer may still fire meanwhile (seen in run_test's shutdown on slow machines)."""
        return self.is_running

    def _show_health(self, sample: HealthSample | None) -> None:
        if self.ops.health.updates == self._health_seen:
            return
        self._health_seen = self.ops.health.updates
        self.query_one(StatusBar).show(sample)
        if sample is None or sample.status is None:
            return
        panel = self.query_one(ClusterPanel)
        panel.show(sample.status)
        if self._first_sample_at is None:
            self._first_sample_at = sample.taken_at
        when = f"+{sample.taken_at - self._first_sample_at:5.1f}s"
        panel.note(when, self.timeline.note(sample.status))
        self._last_status = sample.status

    def _show_tables(self) -> None:
        in_feed = [name for name in self.ops.observers.names() if name not in self.muted]
        self.query_one(ObserversPanel).show_rows(observer_rows(self.ops.observers.rows(), in_feed))
        self.query_one(ProducersPanel).show_rows(producer_rows(self.ops.producers.rows()))
        # Consumers' states change between list requests (and while requests fail).
        subscriptions = self.ops.subscriptions.known_rows()
        if subscriptions is not None:
            self.query_one(SubscriptionsPanel).show_rows(subscription_rows(subscriptions))

    @work(exclusive=True, group="poll")
    async def poll(self) -> None:
        """Read the lists that need a request (subscriptions, streams) and show them."""
        await self.refresh_lists()

    async def refresh_lists(self) -> None:
        """One round of the lists that need a request; a list that fails waits for the next
        round (the status bar says why), and the other is still shown."""
        subscriptions: list[SubscriptionRow] | None = None
        streams: list[StreamRow] | None = None
        with contextlib.suppress(OpsError, GateError):
            subscriptions = await self.ops.subscriptions.rows()
        with contextlib.suppress(OpsError, GateError):
            streams = await self.ops.streams.rows()
        if not self._dashboard_shown():
            return
        with self.batch_update():
            if subscriptions is not None:
                panel = self.query_one(SubscriptionsPanel)
                panel.show_rows(subscription_rows(subscriptions))
            if streams is not None:
                self.query_one(StreamsPanel).show_streams(streams)

    def _follow_node_log(self) -> None:
        # A request to a paused node waits for the gateway's timeout: let it finish rather
        # than start another that would cancel it.
        if not any(w.group == "node-log" and w.is_running for w in self.workers):
            self.poll_node_log()

    @work(exclusive=True, group="node-log")
    async def poll_node_log(self) -> None:
        """Show what is new in the selected node's log."""
        if not self._dashboard_shown():
            return
        node = self.query_one(ClusterPanel).selected_node
        if node is None:
            return
        update = await self.node_log.poll(node)
        if self._dashboard_shown():
            self.query_one(ClusterPanel).show_node_log(update)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Another node selected: its log, at once."""
        if event.data_table.id == "nodes":
            self.poll_node_log()

    # -- navigation --------------------------------------------------------------------------

    def action_show_panel(self, panel: str) -> None:
        """Switch to a panel and put the keyboard in it."""
        self.query_one(TabbedContent).active = panel
        pane = self.query_one(f"#{panel}", TabPane)
        tables = pane.query(DataTable)
        if tables:
            self.screen.set_focus(tables.first())
        elif panel == "feed":
            self.screen.set_focus(self.query_one("#feed-log"))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """The keyboard and the shown panel go together; the feed catches up when shown.

        A tab chosen on the tab bar takes the keyboard into its panel.  Panel keys, and focus
        moves, activate tabs too, and their messages can come late and out of order: after 3
        then 5 quickly, Observers' message may come last, with the keyboard already in
        Subscriptions.  Then the tab follows the keyboard, which moves no focus, so the two
        can never chase each other (they did, for ever).  Nothing while the app closes."""
        pane_id = event.pane.id
        tabs = event.tabbed_content
        if not self._dashboard_shown() or pane_id is None or pane_id != tabs.active:
            return
        if pane_id == "feed":
            self.query_one(FeedPanel).catch_up()
        focused = tabs.screen.focused
        holder = None if focused is None else _pane_of(focused)
        if holder is None:
            self.action_show_panel(pane_id)
        elif holder is not event.pane and holder.id is not None:
            tabs.active = holder.id

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen())

    def action_filter_feed(self) -> None:
        """Open the feed with its filter box."""
        self.action_show_panel("feed")
        self.query_one(FeedPanel).action_filter()

    # -- operations --------------------------------------------------------------------------

    def on_requested(self, message: Requested) -> None:
        """Run the operation a panel key or the palette asked for."""
        if message.name.startswith("node_"):
            self.node_action(message.target, message.name.removeprefix("node_"))
            return
        handler: Callable[[str | None], None] = getattr(self, f"op_{message.name}")
        handler(message.target)

    def report(self, line: str) -> None:
        """Show an operation's outcome (✅, ⚠️ or ❌ first, as in the menu shell)."""
        self.last_message = line
        severity: SeverityLevel = (
            "error"
            if line.startswith("❌")
            else "warning"
            if line.startswith("⚠")
            else "information"
        )
        self.notify(line, severity=severity, markup=False)

    def _done(self, result: str | None) -> None:
        if result:
            self.report(result)
            self.drain(tables=True)
            self.poll()

    def _ask(self, dialog: FormDialog[str]) -> None:
        self.push_screen(dialog, callback=self._done)

    @work(group="ops")
    async def attempt(self, operation: Awaitable[str]) -> None:
        """Run an operation without a dialog; its errors become one ❌ line."""
        try:
            self._done(await operation)
        except (OpsError, GateError) as exc:
            self.report(f"❌ {exc}")

    def _known_streams(self) -> list[str]:
        table = self.query_one("#stream-list", DataTable)
        return [str(key.value) for key in table.rows]

    def _need(self, target: str | None, what: str, panel: str) -> str | None:
        if target is None:
            self.report(f"⚠️  Select {what} in the {panel.capitalize()} panel first")
            self.action_show_panel(panel)
        return target

    def op_observer_by_stream(self, target: str | None) -> None:
        """1. Create Observer by Stream."""
        self._ask(create.observer_by_stream(self.ops, self._known_streams(), blink=self.blink))

    def op_observer_by_type(self, target: str | None) -> None:
        """2. Create Observer by Event Type."""
        self._ask(create.observer_by_type(self.ops, blink=self.blink))

    def op_observer_by_payload(self, target: str | None) -> None:
        """3. Create Observer by Event Payload."""
        self._ask(create.observer_by_payload(self.ops, blink=self.blink))

    def op_stop_observer(self, target: str | None) -> None:
        """6. Stop Observer (the selected one)."""
        selected = target or self.query_one(ObserversPanel).selected
        name = self._need(selected, "an observer", "observers")
        if name is not None:

            async def stop() -> str:
                observer = await self.ops.observers.stop(name)
                return f"✅ Observer '{observer.name}' stopped"

            self.attempt(stop())

    def op_monitor(self, target: str | None) -> None:
        """5. Monitor: the feed shows only this observer (or consumer)."""
        if self.query_one(TabbedContent).active == "subscriptions":
            name = self._need(target, "a subscription", "subscriptions")
            source = None if name is None else CONSUMER_PREFIX + name
        else:
            source = self._need(target, "an observer", "observers")
        if source is None:
            return
        if source not in {*self.ops.observers.names()} | {
            CONSUMER_PREFIX + n for n in self.ops.subscriptions.consumer_names()
        }:
            self.report(f"⚠️  {source} has no feed here (consume it first: c)")
            return
        everything = [*self.ops.observers.names()]
        everything += [CONSUMER_PREFIX + n for n in self.ops.subscriptions.consumer_names()]
        self.muted = {name for name in everything if name != source}
        self.report(f"👁️  Monitoring {source}")
        self.drain(tables=True)
        self.action_show_panel("feed")

    def op_toggle_feed(self, target: str | None) -> None:
        """Put the selected observer in or out of the feed."""
        if target is not None:
            self.muted ^= {target}
            self.drain(tables=True)

    def op_start_producers(self, target: str | None) -> None:
        """7. Start Producers."""
        self._ask(create.start_producers(self.ops, blink=self.blink))

    def op_stop_producer(self, target: str | None) -> None:
        """8. Stop Producer (the selected one)."""
        selected = target or self.query_one(ProducersPanel).selected
        stream = self._need(selected, "a producer", "producers")
        if stream is not None:

            async def stop() -> str:
                await self.ops.producers.stop(stream)
                return f"✅ Producer on '{stream}' stopped"

            self.attempt(stop())

    def op_create_subscription(self, target: str | None) -> None:
        """10. Create Subscription."""
        self._ask(create.create_subscription(self.ops, self._known_streams(), blink=self.blink))

    def _subscription(self, target: str | None) -> str | None:
        selected = target or self.query_one(SubscriptionsPanel).selected
        return self._need(selected, "a subscription", "subscriptions")

    def op_delete_subscription(self, target: str | None) -> None:
        """Delete the selected subscription (asking first when it has parked events)."""
        name = self._subscription(target)
        if name is not None:
            self.delete_subscription(name)

    @work(group="ops")
    async def delete_subscription(self, name: str) -> None:
        """Delete a subscription; its parked events would go with it, so that is asked."""
        try:
            rows = await self.ops.subscriptions.rows()
            parked = next((row.parked for row in rows if row.name == name), 0)
            if parked and not await self.confirmed(
                f"Delete subscription '{name}'?", f"Its {parked} parked events go with it."
            ):
                self.report(f"↩️  Subscription '{name}' kept")
                return
            await self.ops.subscriptions.delete(name)
        except (OpsError, GateError) as exc:
            self.report(f"❌ {exc}")
            return
        self._done(f"✅ Subscription '{name}' deleted")

    async def confirmed(self, question: str, detail: str) -> bool:
        """Whether to go ahead with what cannot be undone (always, with confirmations off);
        call it from a worker."""
        if not self.confirm:
            return True
        answer: bool = await self.push_screen_wait(ConfirmDialog(question, detail))
        return answer

    def op_toggle_consumer(self, target: str | None) -> None:
        """Consume the selected subscription here (with the policy last chosen for it here, else
        acking every event), or stop doing so; a failed consumer is started again."""
        name = self._subscription(target)
        if name is None:
            return
        consumers = self.ops.subscriptions
        if name in consumers.consumer_names() and consumers.consumer(name).state != "failed":

            async def stop() -> str:
                await self.ops.subscriptions.stop_consumer(name)
                return f"✅ This console no longer consumes '{name}'"

            self.attempt(stop())
        else:

            async def start() -> str:
                consumer = await self.ops.subscriptions.start_consumer(name)
                return f"✅ Consuming '{name}' here; the consumer {consumer.policy.describe()}"

            self.attempt(start())

    def op_consumer_policy(self, target: str | None) -> None:
        """The ack/nack settings of this console's consumer of the selected subscription."""
        name = self._subscription(target)
        if name is not None:
            consuming = name in self.ops.subscriptions.consumer_names()
            current = self.ops.subscriptions.consumer(name).policy if consuming else None
            self._ask(consumer_policy(self.ops, name, current, blink=self.blink))

    def op_replay_parked(self, target: str | None) -> None:
        """Deliver the selected subscription's parked events again."""
        name = self._subscription(target)
        if name is not None:

            async def replay() -> str:
                await self.ops.subscriptions.replay_parked(name)
                return f"✅ Parked events of '{name}' replayed"

            self.attempt(replay())

    def _stream(self, target: str | None) -> str | None:
        return target or self.query_one(StreamsPanel).current_stream

    def op_browse_stream(self, target: str | None) -> None:
        """12. View Stream Data, shown in the streams browser."""
        dialog = create.browse_stream(
            self.ops, self._known_streams(), self._stream(target), blink=self.blink
        )

        def opened(result: tuple[PageRequest, StreamPage] | None) -> None:
            if result is not None:
                self.action_show_panel("streams")
                self.query_one(StreamsPanel).show_page(*result)

        self.push_screen(dialog, callback=opened)

    def op_append_events(self, target: str | None) -> None:
        """13. Append Events Manually."""
        streams = self._known_streams()
        self._ask(create.append_events(self.ops, streams, self._stream(target), blink=self.blink))

    def op_append_event(self, target: str | None) -> None:
        """Append a chosen event."""
        streams = self._known_streams()
        self._ask(create.append_event(self.ops, streams, self._stream(target), blink=self.blink))

    def op_greenhouse(self, target: str | None) -> None:
        """The greenhouse aggregate of the open stream, and its snapshots."""
        stream = self._need(self._stream(target), "a stream", "streams")
        if stream is not None:
            self.open_greenhouse(stream)

    @work(group="ops")
    async def open_greenhouse(self, stream: str) -> None:
        """Load a greenhouse and show it."""
        try:
            view = await self.ops.streams.greenhouse(stream)
        except (OpsError, GateError) as exc:
            self.report(f"❌ {exc}")
            return
        self.push_screen(GreenhouseScreen(view))

    def op_take_snapshot(self, target: str | None) -> None:
        """Record a greenhouse snapshot, then show the greenhouse again."""
        if target is None:
            return

        async def snapshot() -> str:
            house = await self.ops.streams.take_snapshot(target)
            self.open_greenhouse(target)
            return f"✅ Snapshot of '{target}' recorded at version {house.version}"

        self.attempt(snapshot())

    def op_filter_feed(self, target: str | None) -> None:
        """Open the feed's filter."""
        self.action_filter_feed()

    @work(group="nodes")
    async def node_action(self, node: str | None, action: str) -> None:
        """Stop, kill, pause, resume, restart or start a node; report what followed."""
        if node is None:
            self.report("⚠️  Select a node in the Cluster panel first")
            return
        if action in _CONFIRM_NODE and not await self.confirmed(
            f"{action.capitalize()} {node}?", _CONFIRM_NODE[action]
        ):
            self.report(f"↩️  {node} left as it was")
            return
        self.report(f"⏳ {action} {node}…")
        try:
            result = await self.ops.cluster.act(node, action)
        except (OpsError, GateError) as exc:
            self.report(f"❌ {exc}")
            return
        done = _PAST_TENSE.get(action, f"{action}ed")
        what = f"{done} {node}{' (the leader)' if result.was_leader else ''}"
        if not result.settled:
            self.report(f"⚠️  {what}; not settled after {result.elapsed:.1f} s")
        elif result.was_leader and action in ("stop", "kill", "pause"):
            self.report(
                f"✅ {what}; new leader {result.leader} (term {result.term}) "
                f"after {result.elapsed:.1f} s"
            )
        else:
            self.report(f"✅ {what} in {result.elapsed:.1f} s")

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every operation of the dashboard, every node action per node, every panel."""
        yield from super().get_system_commands(screen)
        for operation in OPERATIONS:
            yield SystemCommand(
                operation.title,
                operation.help,
                partial(self.post_message, Requested(operation.name, None)),
            )
        status = self._last_status
        for node in status.nodes if status is not None else ():
            for action in NODE_ACTIONS:
                yield SystemCommand(
                    f"{action.capitalize()} {node.node_id}",
                    f"{action} node {node.node_id} ({node.shown_role})",
                    partial(self.node_action, node.node_id, action),
                )
        for panel, title in PANELS:
            yield SystemCommand(
                f"Show {title}", f"the {title} panel", partial(self.action_show_panel, panel)
            )
