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
from collections.abc import Awaitable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, assert_never

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, RichLog, Static, TabbedContent, TabPane

from console.ops import outcomes
from console.ops.catalogue import (
    CATALOGUE,
    EVERYTHING,
    PANELS,
    Offer,
    Operation,
    Panel,
    Target,
    find,
    operation,
    refusal,
)
from console.ops.cluster import ClusterStatus, HealthSample, NodeLogFollower
from console.ops.errors import OpsError
from console.ops.lesson_view import LessonView
from console.ops.line_feed import LineFeed
from console.ops.messages import UNFOLD_AT
from console.ops.operations import Operations
from console.ops.outcomes import Outcome
from console.ops.recording import Recorder
from console.ops.room import Room
from console.ops.stores import StoreRow
from console.ops.streams import StreamPage, StreamRow
from console.ops.subscriptions import SubscriptionRow, counters_note
from console.tui.charts.history import ChartHistory
from console.tui.charts.panes import ChartPane, ClusterCharts, FeedCharts, SubscriptionCharts
from console.tui.cluster.panel import ClusterPanel
from console.tui.cluster.timeline import Timeline, elapsed_text
from console.tui.dialogs import create
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.dialogs.consumer_policy import consumer_policy
from console.tui.dialogs.form import FormDialog
from console.tui.feed.collector import FeedCollector
from console.tui.feed.panel import FeedPanel
from console.tui.footer import GateFooter
from console.tui.help import HelpScreen
from console.tui.lesson.pane import NEXT_STEP_KEY, LessonPane, lesson_commands
from console.tui.messages.panel import MessagesPanel, message_id
from console.tui.observers.panel import ObserversPanel, observer_rows
from console.tui.producers.panel import ProducersPanel, producer_rows
from console.tui.requests import Requested, catalogue_bindings, request, role_allows
from console.tui.size_notice import SizeNotice, too_small
from console.tui.status_bar import StatusBar, VerdictLine
from console.tui.streams.greenhouse import GreenhouseScreen
from console.tui.streams.paging import PageRequest
from console.tui.streams.panel import StreamsPanel
from console.tui.subscriptions.panel import SubscriptionsPanel, subscription_rows
from engine.client import GateError
from engine.config_model import Role

DRAIN_HZ = 10.0  # screen refreshes of live data per second
TABLE_EVERY = 4  # observers/producers tables: every 4th drain (2.5 Hz)
POLL_SECONDS = 1.0  # subscriptions and streams: one request each per second
NODE_LOG_SECONDS = 0.5  # the selected node's log: new lines twice a second
LEADER_LOG_SECONDS = 1.0  # the leader's log, for the snapshots it sent: once a second
CONSUMER_PREFIX = "sub "  # feed sources of this console's subscription consumers
_START_KEY = operation("node_start").keys[0].key
# How the no-majority words say a node is started here.
START_A_NODE = f"({_START_KEY} on the Cluster panel starts a node)"
# The tempo keys: one step slower, one faster, full speed (console/ops/cluster.py).
_TEMPO_STEPS = {"tempo_slower": 1, "tempo_faster": -1, "tempo_normal": 0}
HEAL_KEY = f"{operation('heal_node').keys[0].key} on the Cluster panel"
PARK_SOME = f"{operation('consumer_policy').keys[0].key} parks some with nack_park"
# What to select, and where, for an operation on a row of each kind.
_TARGETS: dict[Target, tuple[str, Panel]] = {
    "node": ("a node", "cluster"),
    "observer": ("an observer", "observers"),
    "producer": ("a producer", "producers"),
    "subscription": ("a subscription", "subscriptions"),
    "stream": ("a stream", "streams"),
}
_SEVERITIES: dict[outcomes.Level, SeverityLevel] = {
    "ok": "information",
    "warn": "warning",
    "error": "error",
    "kept": "information",
    "busy": "information",
    "watch": "information",
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
            Binding(str(number), f"panel_key({number})", title, show=False)
            for number, (panel, title) in enumerate(PANELS, 1)
        ),
        Binding("question_mark", "help", "Help"),
        Binding("G", "toggle_charts", "Charts", show=False),
        Binding(NEXT_STEP_KEY, "lesson_step", "Next step", show=False),
        *catalogue_bindings(None, show=False),
    ]

    def __init__(
        self,
        ops: Operations,
        *,
        blink: bool = True,
        confirm: bool = True,
        lesson: Path | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__()
        self.ops = ops
        # gate-console --record: every arrival the drain shows is also written there.
        self.recorder = recorder
        self.lesson_path = lesson  # gate-console --lesson FILE: opened in the narration pane
        self.blink = blink
        self.confirm = confirm  # off (gate-console --yes) for scripted demos
        self.collector = FeedCollector()
        self.muted: set[str] = set()  # feed sources a person took out of the feed
        self._health_seen = -1
        self._last_status: ClusterStatus | None = None
        self._inside_seen = 0  # the nodes' inside updates drawn so far
        self.timeline = Timeline()
        self.history = ChartHistory()  # what the charts draw (G shows them)
        self._first_sample_at: float | None = None
        self._ticks = 0
        self.last_message = ""  # the latest operation outcome (tests and the bench read it)
        self.node_log = NodeLogFollower(ops.cluster)
        # The leader's log tells of finished snapshot transfers ("snapshot sent to node4: 12.4
        # MB at index 2002 in 0.8 s"), which the timeline shows; what a leader logged before it
        # was followed is history, not news.
        self.leader_log = NodeLogFollower(ops.cluster, first_lines=1)
        self._leader_followed: str | None = None

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ops.url, self.ops.access.label, self.ops.store, id="status-bar")
        yield VerdictLine(id="verdict-line")
        with TabbedContent(id="panels"):
            with TabPane("Cluster", id="cluster"):
                yield ClusterPanel(id="cluster-panel")
                yield ClusterCharts(self.history)
            with TabPane("Feed", id="feed"):
                yield FeedPanel(id="feed-panel")
                yield FeedCharts(self.history)
            with TabPane("Observers", id="observers"):
                yield ObserversPanel(id="observers-panel")
            with TabPane("Producers", id="producers"):
                yield ProducersPanel(id="producers-panel")
            with TabPane("Subscriptions", id="subscriptions"):
                yield SubscriptionsPanel(id="subscriptions-panel")
                yield SubscriptionCharts(self.history)
            with TabPane("Streams", id="streams"):
                yield Static(id="store-counts", markup=False)
                yield StreamsPanel(self.ops.streams, id="streams-panel")
            with TabPane("Messages", id="messages"):
                yield MessagesPanel(id="messages-panel")
        yield LessonPane(
            self.ops,
            self.action_show_panel,
            room=Room.from_env(),
            # Only a recording console is handed the pane's views (each one a copy of its lines).
            on_view=self.record_lesson if self.recorder is not None else None,
            id="lesson-pane",
        )
        yield GateFooter(compact=True)

    def on_mount(self) -> None:
        if self.recorder is not None:  # a recording holds the messages, whichever panel shows
            self.ops.messages.watch(True)
        self.ops.inside.watch(True)  # the Cluster panel is shown first
        self.drain(tables=True)
        self.start_timers()
        self.query_one("#cluster-panel DataTable", DataTable).focus()
        self._check_size(self.size)
        self.greet()
        if self.lesson_path is not None:
            self.open_lesson(self.lesson_path)

    def greet(self) -> None:
        """The first word: a console attached to a running cluster says Ctrl+Q leaves it."""
        if not self.ops.started_engine:
            self.report(outcomes.attached(self.ops.url))

    def start_timers(self) -> None:
        """Drain the buffers, poll the lists and the logs, each at its pace."""
        self.set_interval(1 / DRAIN_HZ, self.drain)
        self.set_interval(POLL_SECONDS, self._poll_lists)
        self.set_interval(NODE_LOG_SECONDS, self._follow_node_log)
        self.set_interval(LEADER_LOG_SECONDS, self.poll_leader_log)
        self.poll()

    def open_lesson(self, path: Path) -> None:
        """Open a lesson in the narration pane (``--lesson``, or the palette)."""
        self.query_one(LessonPane).open(path)

    def action_lesson_step(self) -> None:
        """``.`` from any panel: the open lesson's next step (Enter, in its pane)."""
        self.query_one(LessonPane).step_from_anywhere()

    def record_lesson(self, view: LessonView | None) -> None:
        """The lesson pane changed (None: it closed): a recording keeps what it shows."""
        if self.recorder is not None:
            self.recorder.lesson(view)

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
        if not role_allows(self, action, parameters):
            return False
        return super().check_action(action, parameters)

    @property
    def role(self) -> Role:
        """The role this console runs with: operations it does not allow are hidden."""
        return self.ops.access.role

    @property
    def offer(self) -> Offer:
        """What the cluster's backend offers: the keys of the rest (JetStream's) are hidden."""
        return self._last_status.offer if self._last_status is not None else EVERYTHING

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
            self.query_one(VerdictLine).show(self.ops.verdict.latest, self.ops.verdict.unreadable)
            sources = self.feed_sources()
            feed = self.query_one(FeedPanel)
            feed.set_sources(list(sources))
            drained = self.collector.drain(sources)
            if self.recorder is not None:
                self.recorder.feed((line.source, line.text) for line in drained.lines)
            self.history.add_feed(drained.lines)
            if drained.lines or drained.missed:
                visible = self.query_one(TabbedContent).active == "feed"
                feed.add_lines(drained.lines, drained.missed, visible=visible)
            if tables or self._ticks % TABLE_EVERY == 0:
                self._show_tables()
            self._show_charts()
            if self.ops.messages.watching:
                self._show_messages()
            if self.ops.inside.updates != self._inside_seen:
                self._inside_seen = self.ops.inside.updates
                self._show_cluster()
        if self.recorder is not None:
            self.recorder.verdict(self.ops.verdict.latest, self.ops.verdict.unreadable)
            self.recorder.flush()

    def _dashboard_shown(self) -> bool:
        """False once the app has stopped running: when it closes, its widgets go one by one,
        and a timer may still fire meanwhile (seen in run_test's shutdown on slow machines)."""
        return self.is_running

    def _show_health(self, sample: HealthSample | None, *, draw: bool = True) -> None:
        """Take a new health sample: the sparkline, the charts and the timeline get every one;
        the status line and the node table are drawn unless ``draw`` is off (a replay jumping
        through many draws the last once, :meth:`draw_health`)."""
        if self.ops.health.updates == self._health_seen:
            return
        self._health_seen = self.ops.health.updates
        if self.recorder is not None and sample is not None:
            self.recorder.health(sample)
        self.query_one(StatusBar).add_rate(sample)
        if draw:
            self.draw_health(sample)
        if sample is None or sample.status is None:
            return
        self.history.add_sample(sample)
        if self._first_sample_at is None:
            self._first_sample_at = sample.taken_at
        when = elapsed_text(sample.taken_at - self._first_sample_at)
        self.query_one(ClusterPanel).note(when, self.timeline.note(sample.status))
        self.query_one(SubscriptionsPanel).show_note(counters_note(sample.status))
        hidden = self.offer
        self._last_status = sample.status
        self.ops.messages.unfold(sample.status.tempo)
        if sample.status.offer != hidden:
            self.refresh_bindings()

    def draw_health(self, sample: HealthSample | None) -> None:
        """The status line and the node table as of ``sample``."""
        self.query_one(StatusBar).show(sample)
        if sample is not None and sample.status is not None:
            self.query_one(ClusterPanel).show(self.ops.inside.merged(sample.status))

    def _show_cluster(self) -> None:
        """The node table as of the last cluster view, with the nodes' fresh inside over it."""
        sample = self.ops.health.latest
        if sample is not None and sample.status is not None:
            self.query_one(ClusterPanel).show(self.ops.inside.merged(sample.status))

    def _show_messages(self) -> None:
        panel = self.query_one(MessagesPanel)
        if self._last_status is not None:
            panel.set_nodes([node.node_id for node in self._last_status.nodes])
        panel.show_problem(self.ops.messages.problem)
        lines, missed = self.ops.messages.drain()
        if self.recorder is not None:
            self.recorder.trace(lines, missed)
        panel.add(lines, missed)

    def _show_tables(self) -> None:
        in_feed = [name for name in self.ops.observers.names() if name not in self.muted]
        self.query_one(ObserversPanel).show_rows(observer_rows(self.ops.observers.rows(), in_feed))
        self.query_one(ProducersPanel).show_rows(producer_rows(self.ops.producers.rows()))
        # Consumers' states change between list requests (and while requests fail).
        subscriptions = self.ops.subscriptions.known_rows()
        if subscriptions is not None:
            self.query_one(SubscriptionsPanel).show_rows(subscription_rows(subscriptions))

    def _show_charts(self) -> None:
        """Draw the shown panel's charts again if they changed (no chart polls by itself)."""
        active = self.query_one(TabbedContent).active
        for pane in self.query_one(f"#{active or 'cluster'}", TabPane).query(ChartPane):
            pane.redraw()

    def action_toggle_charts(self) -> None:
        """Show or hide the charts of the Cluster, Feed and Subscriptions panels."""
        # After the logs' pending scrolls (a write scrolls after the next refresh), so that
        # those following their newest lines are seen to.
        self.call_after_refresh(self._toggle_charts)

    def _toggle_charts(self) -> None:
        at_end = [log for log in self.query(RichLog) if log.is_vertical_scroll_end]
        for pane in self.query(ChartPane):
            pane.toggle(at_end)
        self._show_charts()

    @work(exclusive=True, group="poll")
    async def poll(self) -> None:
        """Read the lists that need a request (subscriptions, streams) and show them."""
        await self.refresh_lists()

    async def refresh_lists(self) -> None:
        """One round of the lists that need a request; a list that fails waits for the next
        round (the status bar says why), and the other is still shown."""
        subscriptions: list[SubscriptionRow] | None = None
        streams: list[StreamRow] | None = None
        store = self.ops.store
        with contextlib.suppress(OpsError, GateError):
            subscriptions = await self.ops.subscriptions.rows()
        with contextlib.suppress(OpsError, GateError):
            streams = await self.ops.streams.rows()
        if not self._dashboard_shown() or store != self.ops.store:  # switched meanwhile
            return
        with self.batch_update():
            if subscriptions is not None:
                health = self.ops.health.latest
                of_store = health is not None and health.store == self.ops.store
                head = health.last_position if of_store and health is not None else None
                self.history.add_subscriptions(subscriptions, head)
                panel = self.query_one(SubscriptionsPanel)
                panel.show_rows(subscription_rows(subscriptions))
            if streams is not None:
                self.query_one(StreamsPanel).show_streams(streams)
            self._show_store_counts(streams, subscriptions)

    def _show_store_counts(
        self, streams: list[StreamRow] | None, subscriptions: list[SubscriptionRow] | None
    ) -> None:
        """The store's counts over the Streams panel (its events as of the last health
        sample of it); a list that could not be read leaves the line as it was."""
        if streams is None or subscriptions is None:
            return
        sample = self.ops.health.latest
        events = None if sample is None or sample.store != self.ops.store else sample.events
        row = StoreRow(self.ops.store, len(streams), events, len(subscriptions))
        key = operation("switch_store").keys[0].shown
        text = f"store {row.store_id} · {row.counts} · {key}: another store"
        self.query_one("#store-counts", Static).update(text)

    def _poll_lists(self) -> None:
        # A round slower than the timer (a loaded machine, a slow read) would be cancelled by
        # the next, every second, and no list would ever be shown: let it finish.
        if not any(w.group == "poll" and w.is_running for w in self.workers):
            self.poll()

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
        if self.recorder is not None:
            self.recorder.log(update.node_id, update.lines)
        if self._dashboard_shown():
            self.query_one(ClusterPanel).show_node_log(update)

    @work(exclusive=True, group="leader-log")
    async def poll_leader_log(self) -> None:
        """Add the snapshots the leader finished sending to the timeline."""
        status = self._last_status
        leader = None if status is None else status.leader
        if leader is None or not self._dashboard_shown():
            return
        update = await self.leader_log.poll(leader)
        first = self._leader_followed != leader
        self._leader_followed = leader
        sent = [
            line.text
            for line in update.lines
            if line.kind == "snapshot" and line.text.startswith("snapshot sent to ")
        ]
        if first or update.restarted or not sent or not self._dashboard_shown():
            return
        self._note(sent)

    def note(self, when: str, lines: list[str]) -> None:
        """Lines on the Cluster panel's timeline that no cluster view tells (the leader's
        finished snapshot transfers, a message dropped by hand)."""
        if self.recorder is not None:
            self.recorder.note(when, lines)
        self.query_one(ClusterPanel).note(when, lines)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Another node selected: its log, at once."""
        if event.data_table.id == "nodes":
            self.poll_node_log()

    # -- navigation --------------------------------------------------------------------------

    def action_panel_key(self, number: int) -> None:
        """A panel's number: that panel; while a lesson's question is open, the number answers
        it instead (the pane takes the keyboard back), so the keys never mean two things."""
        lesson = self.query_one(LessonPane)
        if lesson.asking is not None and self.screen is lesson.screen:
            lesson.focus()
            lesson.action_answer(number)
            return
        self.action_show_panel(PANELS[number - 1][0])

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
        # The cluster is asked for its messages only while they are shown.
        self.ops.messages.watch(pane_id == "messages" or self.recorder is not None)
        # And for the nodes' inside only while the Cluster panel is.
        self.ops.inside.watch(pane_id == "cluster")
        if pane_id == "messages":
            self._show_messages()
        focused = tabs.screen.focused
        holder = None if focused is None else _pane_of(focused)
        if holder is None:
            if not isinstance(focused, LessonPane):  # Enter stays the lesson's
                self.action_show_panel(pane_id)
        elif holder is not event.pane and holder.id is not None:
            tabs.active = holder.id

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(self.role))

    def action_filter_feed(self) -> None:
        """Open the feed with its filter box."""
        self.action_show_panel("feed")
        self.query_one(FeedPanel).action_filter()

    # -- operations --------------------------------------------------------------------------

    def action_request(self, name: str) -> None:
        """An app-wide key's operation (``/``)."""
        self.post_message(request(name, None))

    def on_requested(self, message: Requested) -> None:
        """Run the operation a panel key or the palette asked for; one that acts on a row
        (the catalogue's ``target``) gets the selected row of its kind when none was named."""
        entry = message.operation
        target = message.target
        refused = refusal(entry, self.role)
        if refused is None:
            refused = self.offer.refusal(entry)
        if refused is not None:  # a key or palette entry left from before, or a test's request
            self.report(Outcome(refused, "error"))
            return
        if target is None and entry.target is not None:
            target = self._selected(entry.target)
        name = entry.name
        match name:
            case "observer_by_stream":
                self._ask(
                    create.observer_by_stream(self.ops, self._known_streams(), blink=self.blink)
                )
            case "observer_by_type":
                self._ask(create.observer_by_type(self.ops, blink=self.blink))
            case "observer_by_payload":
                self._ask(create.observer_by_payload(self.ops, blink=self.blink))
            case "stop_observer":
                self.op_stop_observer(target)
            case "monitor":
                self.op_monitor(target)
            case "toggle_feed":
                self.op_toggle_feed(target)
            case "start_producers":
                self._ask(create.start_producers(self.ops, blink=self.blink))
            case "stop_producer":
                self.op_stop_producer(target)
            case "create_subscription":
                streams = self._known_streams()
                self._ask(create.create_subscription(self.ops, streams, blink=self.blink))
            case "delete_subscription":
                self.op_delete_subscription(target)
            case "toggle_consumer":
                self.op_toggle_consumer(target)
            case "consumer_policy":
                self.op_consumer_policy(target)
            case "replay_parked":
                self.op_replay_parked(target)
            case "browse_stream":
                self.op_browse_stream(target)
            case "append_events":
                streams = self._known_streams()
                self._ask(create.append_events(self.ops, streams, target, blink=self.blink))
            case "append_event":
                streams = self._known_streams()
                self._ask(create.append_event(self.ops, streams, target, blink=self.blink))
            case "greenhouse":
                self.op_greenhouse(target)
            case "take_snapshot":
                self.op_take_snapshot(target)
            case "filter_feed":
                self.action_filter_feed()
            case "switch_store":
                self.open_store_switch()
            case "node_stop" | "node_kill" | "node_pause" | "node_resume" | "node_restart":
                self.node_action(target, name.removeprefix("node_"))
            case "node_start":
                self.node_action(target, "start")
            case "transfer_leader":
                self.op_transfer(target)
            case "isolate_node":
                self.op_isolate(target)
            case "heal_node":
                self.op_heal(target)
            case "add_node":
                status = self._last_status
                proposed = status.next_member() if status else ("node4", "", "")
                self._ask(create.add_node(self.ops, proposed, blink=self.blink))
            case "remove_node":
                self.op_remove(target)
            case "set_tempo":
                current = self._last_status.tempo if self._last_status else 1
                self._ask(create.set_tempo(self.ops, current, blink=self.blink))
            case "tempo_slower" | "tempo_faster" | "tempo_normal":
                self.op_step_tempo(_TEMPO_STEPS[name])
            case "link_fault":
                self.op_link_fault(target)
            case "drop_message":
                self.op_drop_message()
            # What the menu shell lists as options the dashboard shows as panels.
            case "list_observers":
                self.action_show_panel("observers")
            case "list_producers":
                self.action_show_panel("producers")
            case "list_subscriptions":
                self.action_show_panel("subscriptions")
            case "view_stream":
                self.action_show_panel("streams")
            case "message_trace":
                self.action_show_panel("messages")
            case "cluster_status" | "node_detail" | "node_log":
                self.action_show_panel("cluster")
            case "exit":
                self.exit()
            case _:
                assert_never(name)

    def report(self, outcome: Outcome) -> None:
        """Show an operation's outcome as a toast (its detail on a second line)."""
        self.last_message = outcome.line
        text = outcome.line if outcome.detail is None else f"{outcome.line}\n{outcome.detail}"
        self.notify(text, severity=_SEVERITIES[outcome.level], markup=False)

    async def report_failure(self, exc: OpsError | GateError) -> None:
        """A failed operation, worded as in the menu shell (and why, when no majority)."""
        self.report(await outcomes.failed(exc, self.ops.cluster, START_A_NODE))

    def _done(self, result: Outcome | None) -> None:
        if result is not None:
            self.report(result)
            self.drain(tables=True)
            self.poll()

    def _ask(self, dialog: FormDialog[Outcome]) -> None:
        self.push_screen(dialog, callback=self._done)

    @work(group="ops")
    async def open_store_switch(self) -> None:
        """The store dialog, with every store and its counts."""
        try:
            stores = await self.ops.stores.rows()
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)
            return
        dialog = create.switch_store(self.ops, stores, blink=self.blink)
        self.push_screen(dialog, callback=self._store_switched)

    def _store_switched(self, result: Outcome | None) -> None:
        """The panels follow the store the console works on now."""
        if result is not None:
            self.query_one(StatusBar).show_store(self.ops.store)
            self.query_one(StreamsPanel).follow(self.ops.streams)
            self.query_one(SubscriptionsPanel).show_rows(subscription_rows([]))
            self.query_one("#store-counts", Static).update("")
            self.history.new_store()
            self.muted.clear()
        self._done(result)

    @work(group="ops")
    async def attempt(self, operation: Awaitable[Outcome]) -> None:
        """Run an operation without a dialog; its errors become one ❌ line."""
        try:
            self._done(await operation)
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)

    def _known_streams(self) -> list[str]:
        table = self.query_one("#stream-list", DataTable)
        return [str(key.value) for key in table.rows]

    def _selected(self, kind: Target) -> str | None:
        """The selected row of a kind: a node, an observer, a producer, a subscription, the
        open stream."""
        match kind:
            case "node":
                return self.query_one(ClusterPanel).selected_node
            case "observer":
                return self.query_one(ObserversPanel).selected
            case "producer":
                return self.query_one(ProducersPanel).selected
            case "subscription":
                return self.query_one(SubscriptionsPanel).selected
            case "stream":
                return self.query_one(StreamsPanel).current_stream
            case _:
                assert_never(kind)

    def _need(self, target: str | None, kind: Target) -> str | None:
        """``target``, or None after saying where to select one."""
        if target is None:
            what, panel = _TARGETS[kind]
            self.report(outcomes.warn(f"Select {what} in the {dict(PANELS)[panel]} panel first"))
            self.action_show_panel(panel)
        return target

    def op_stop_observer(self, target: str | None) -> None:
        """6. Stop Observer (the selected one)."""
        name = self._need(target, "observer")
        if name is not None:

            async def stop() -> Outcome:
                observer = await self.ops.observers.stop(name)
                return outcomes.observer_stopped(observer.name)

            self.attempt(stop())

    def op_monitor(self, target: str | None) -> None:
        """5. Monitor: the feed shows only this observer (or consumer)."""
        if self.query_one(TabbedContent).active == "subscriptions":
            name = self._need(target, "subscription")
            source = None if name is None else CONSUMER_PREFIX + name
        else:
            source = self._need(target, "observer")
        if source is None:
            return
        if source not in {*self.ops.observers.names()} | {
            CONSUMER_PREFIX + n for n in self.ops.subscriptions.consumer_names()
        }:
            consume = operation("toggle_consumer").keys[0].key
            self.report(outcomes.warn(f"{source} has no feed here (consume it first: {consume})"))
            return
        everything = [*self.ops.observers.names()]
        everything += [CONSUMER_PREFIX + n for n in self.ops.subscriptions.consumer_names()]
        self.muted = {name for name in everything if name != source}
        self.report(Outcome(f"Monitoring {source}", "watch"))
        self.drain(tables=True)
        self.action_show_panel("feed")

    def op_toggle_feed(self, target: str | None) -> None:
        """Put the selected observer in or out of the feed."""
        if target is not None:
            self.muted ^= {target}
            self.drain(tables=True)

    def op_stop_producer(self, target: str | None) -> None:
        """8. Stop Producer (the selected one)."""
        stream = self._need(target, "producer")
        if stream is not None:

            async def stop() -> Outcome:
                await self.ops.producers.stop(stream)
                return outcomes.producer_stopped(stream)

            self.attempt(stop())

    def op_delete_subscription(self, target: str | None) -> None:
        """Delete the selected subscription (asking first when it has parked events)."""
        name = self._need(target, "subscription")
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
                self.report(outcomes.kept(f"Subscription '{name}' kept"))
                return
            await self.ops.subscriptions.delete(name)
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)
            return
        self._done(outcomes.subscription_deleted(name))

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
        name = self._need(target, "subscription")
        if name is None:
            return
        consumers = self.ops.subscriptions
        if name in consumers.consumer_names() and consumers.consumer(name).state != "failed":

            async def stop() -> Outcome:
                await self.ops.subscriptions.stop_consumer(name)
                return outcomes.consumer_stopped(name)

            self.attempt(stop())
        else:

            async def start() -> Outcome:
                consumer = await self.ops.subscriptions.start_consumer(name)
                return outcomes.consuming(name, consumer.policy.describe())

            self.attempt(start())

    def op_consumer_policy(self, target: str | None) -> None:
        """The ack/nack settings of this console's consumer of the selected subscription."""
        name = self._need(target, "subscription")
        if name is not None:
            consuming = name in self.ops.subscriptions.consumer_names()
            current = self.ops.subscriptions.consumer(name).policy if consuming else None
            self._ask(consumer_policy(self.ops, name, current, blink=self.blink))

    def op_replay_parked(self, target: str | None) -> None:
        """Deliver the selected subscription's parked events again."""
        name = self._need(target, "subscription")
        if name is not None:

            async def replay() -> Outcome:
                rows = await self.ops.subscriptions.rows()
                parked = next((row.parked for row in rows if row.name == name), 0)
                await self.ops.subscriptions.replay_parked(name)
                return outcomes.parked_replayed(name, parked, PARK_SOME)

            self.attempt(replay())

    def op_browse_stream(self, target: str | None) -> None:
        """12. View Stream Data, shown in the streams browser."""
        dialog = create.browse_stream(self.ops, self._known_streams(), target, blink=self.blink)

        def opened(result: tuple[PageRequest, StreamPage] | None) -> None:
            if result is not None:
                self.action_show_panel("streams")
                self.query_one(StreamsPanel).show_page(*result)

        self.push_screen(dialog, callback=opened)

    def op_greenhouse(self, target: str | None) -> None:
        """The greenhouse aggregate of the open stream, and its snapshots."""
        stream = self._need(target, "stream")
        if stream is not None:
            self.open_greenhouse(stream)

    @work(group="ops")
    async def open_greenhouse(self, stream: str) -> None:
        """Load a greenhouse and show it."""
        try:
            view = await self.ops.streams.greenhouse(stream)
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)
            return
        self.push_screen(GreenhouseScreen(view))

    def op_take_snapshot(self, target: str | None) -> None:
        """Record a greenhouse snapshot, then show the greenhouse again."""
        if target is None:
            return

        async def snapshot() -> Outcome:
            house = await self.ops.streams.take_snapshot(target)
            self.open_greenhouse(target)
            return outcomes.snapshot_taken(target, house.version)

        self.attempt(snapshot())

    @work(group="nodes")
    async def node_action(self, node: str | None, action: str) -> None:
        """Stop, kill, pause, resume, restart or start a node; report what followed."""
        if self._need(node, "node") is None:
            return
        entry = find(f"node_{action}")
        # A destructive one is asked about first (with confirmations on), saying what it does.
        detail = f"{entry.help[0].upper()}{entry.help[1:]}; {_START_KEY} starts it again."
        if entry.destructive and not await self.confirmed(f"{action.capitalize()} {node}?", detail):
            self.report(outcomes.kept(f"{node} left as it was"))
            return
        self.report(Outcome(f"{action} {node}…", "busy"))
        try:
            result = await self.ops.cluster.act(node, action)
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)
            return
        self.report(outcomes.node_action_done(result, START_A_NODE))

    def op_transfer(self, target: str | None) -> None:
        """Hand leadership over to the selected node and say when it leads."""
        node = self._need(target, "node")
        if node is not None:
            self.report(Outcome(f"handing leadership over to {node}…", "busy"))

            async def transfer() -> Outcome:
                return outcomes.leadership_transferred(await self.ops.cluster.transfer(node))

            self.attempt(transfer())

    def op_isolate(self, target: str | None) -> None:
        """Cut the selected node's links: every peer both ways, or as the dialog says."""
        node = self._need(target, "node")
        if node is not None:
            status = self._last_status
            peers = [n.node_id for n in status.nodes if n.node_id != node] if status else []
            self._ask(create.isolate_node(self.ops, node, peers, HEAL_KEY, blink=self.blink))

    def op_step_tempo(self, direction: int) -> None:
        """One tempo step slower (1), faster (-1), or full speed (0)."""

        async def step() -> Outcome:
            return outcomes.tempo_set(await self.ops.cluster.step_tempo(direction))

        self.attempt(step())

    def op_link_fault(self, target: str | None) -> None:
        """Make the selected node's links lossy, slow or repeating, as the dialog says."""
        node = self._need(target, "node")
        if node is not None:
            status = self._last_status
            peers = [n.node_id for n in status.nodes if n.node_id != node] if status else []
            self._ask(create.link_fault(self.ops, node, peers, blink=self.blink))

    def op_drop_message(self) -> None:
        """Drop the message selected in the Messages panel while it is on its way; the row
        ends in ✗ and the timeline says so."""
        panel = self.query_one(MessagesPanel)
        line = panel.selected
        if line is None or line.kind != "message" or dict(line.fields).get("dir") == "recv":
            self.report(
                outcomes.warn(
                    "select a message first (Messages panel, 7): one arrow as it was sent, "
                    "not folded heartbeats or a summed-up line",
                    f"In slow motion (tempo ×1/{UNFOLD_AT} or slower) every heartbeat is "
                    "its own arrow",
                )
            )
            return
        node, seq = message_id(line)
        if (node, seq) in panel.dropped:
            self.report(outcomes.warn(f"message {seq} of {node} was dropped already"))
            return

        async def drop() -> Outcome:
            answer = await self.ops.cluster.drop_message(node, seq)
            panel.mark_dropped(line)
            self._note([f"✗ {line.frm} → {line.to} {line.text}: dropped in flight"])
            return outcomes.message_dropped(answer, line.text)

        self.attempt(drop())

    def _note(self, sentences: list[str]) -> None:
        """Add to the timeline what the console saw or did between two looks at the cluster
        (at the last look's time)."""
        sample = self.ops.health.latest
        if sample is None:
            return
        when = elapsed_text(sample.taken_at - (self._first_sample_at or sample.taken_at))
        self.note(when, sentences)

    def op_heal(self, target: str | None) -> None:
        """Restore every cut link of the selected node."""
        node = self._need(target, "node")
        if node is not None:

            async def heal() -> Outcome:
                return outcomes.links_healed(await self.ops.cluster.heal(node))

            self.attempt(heal())

    @work(group="nodes")
    async def op_remove(self, target: str | None) -> None:
        """Remove the selected node from the cluster, asked first."""
        node = self._need(target, "node")
        if node is None:
            return
        detail = "It leaves the membership (a leader hands over first) and is stopped."
        if not await self.confirmed(f"Remove {node} from the cluster?", detail):
            self.report(outcomes.kept(f"{node} left as it was"))
            return
        try:
            answer = await self.ops.cluster.remove_node(node)
        except (OpsError, GateError) as exc:
            await self.report_failure(exc)
            return
        self._done(outcomes.member_removed(node, answer))

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every operation of the catalogue the palette lists (node actions once per node),
        then every panel."""
        yield from super().get_system_commands(screen)
        status = self._last_status
        nodes = status.nodes if status is not None else ()
        for entry in CATALOGUE:
            if not entry.palette or not entry.allowed(self.role):
                continue
            if not self.offer.offers(entry):
                continue
            if entry.target != "node":
                yield SystemCommand(entry.title, entry.help, partial(self._request, entry, None))
                continue
            for node in nodes:
                yield SystemCommand(
                    entry.palette_title(node.node_id),
                    f"{entry.help} ({node.node_id}: {node.shown_role})",
                    partial(self._request, entry, node.node_id),
                )
        yield SystemCommand(
            "Show or hide the charts", "G: live charts under the panels", self.action_toggle_charts
        )
        for panel, title in PANELS:
            yield SystemCommand(
                f"Show {title}", f"the {title} panel", partial(self.action_show_panel, panel)
            )
        yield from lesson_commands(self.open_lesson)

    def _request(self, entry: Operation, target: str | None) -> None:
        self.post_message(Requested(entry, target))
