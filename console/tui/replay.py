"""``gate-console --replay FILE``: a recorded session played in the dashboard's own panels.

:class:`ReplayConsole` is the dashboard over :class:`~console.ops.replay.ReplayOps`: a timer
hands the records due to the operations stand-in, and the dashboard's one drain shows them, as
it shows live arrivals (each cluster view drained on its own, so the timeline notes every one).
Keys: space pauses and resumes, ``.`` shows the next record, ``<``/``>`` halve and double the
speed, ``[``/``]`` go back/forward :data:`SEEK_SECONDS`, ``{``/``}`` to the start/end.  Going
back clears the panels (they are composed again) and plays the records from the first up to the
target at once, so the screen is the one first seen there.  A lesson played while recording
shows in the lesson pane as it was then (its narration, question, answers and recap).
Operations that need a cluster, and answering a recorded question, say ``replay: read only``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, cast

from textual.binding import Binding, BindingType
from textual.widgets import TabbedContent

from console.ops import outcomes
from console.ops.cluster import NodeLogFollower
from console.ops.line_feed import LineFeed
from console.ops.operations import Operations
from console.ops.outcomes import Outcome
from console.ops.rate import Clock
from console.ops.recording import Record
from console.ops.replay import READ_ONLY, Playback, ReplayOps, speed_text
from console.tui.app import NODE_LOG_SECONDS, GateConsole
from console.tui.charts.history import ChartHistory
from console.tui.cluster.panel import ClusterPanel
from console.tui.cluster.timeline import Timeline
from console.tui.feed.collector import FeedCollector
from console.tui.help import HelpScreen
from console.tui.lesson.pane import LessonPane
from console.tui.requests import Requested
from console.tui.status_bar import StatusBar

TICK_SECONDS = 0.1  # the playback's clock advances ten times a second, as the drain does live
SEEK_SECONDS = 5.0
# What a replay still does: show panels, filter the feed, leave.
_VIEWING = {
    "filter_feed",
    "list_observers",
    "list_producers",
    "list_subscriptions",
    "view_stream",
    "cluster_status",
    "node_detail",
    "node_log",
    "monitor",
    "toggle_feed",
    "exit",
}


class ReplayConsole(GateConsole):
    """The dashboard playing a recording (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "replay_pause", "Pause", priority=True),
        Binding("left_square_bracket", "replay_seek(-1)", "Back", key_display="[", priority=True),
        Binding("right_square_bracket", "replay_seek(1)", "Fwd", key_display="]", priority=True),
        # Off the footer, which has no room for them: docs/CONSOLE.md lists them.
        *(
            Binding(key, action, title, key_display=shown, priority=True, show=False)
            for key, action, title, shown in (
                ("less_than_sign", "replay_speed(-1)", "Slower", "<"),
                ("greater_than_sign", "replay_speed(1)", "Faster", ">"),
                ("left_curly_bracket", "replay_start", "Start", "{"),
                ("right_curly_bracket", "replay_end", "End", "}"),
            )
        ),
    ]

    def __init__(
        self, ops: ReplayOps, *, paused: bool = False, clock: Clock = time.monotonic
    ) -> None:
        # The dashboard reads the parts of Operations that ReplayOps has (see its docstring).
        super().__init__(cast(Operations, ops), confirm=False)
        self.replay = ops
        self.playback = Playback(ops.recording.records)
        self.playback.paused = paused
        self.clock = clock
        self._ticked = clock()
        self._seeking = False  # the panels are being composed again: nothing to draw into
        self._fresh_state()

    def _fresh_state(self) -> None:
        """The dashboard's own state as before the first record (the panels apart)."""
        # Every recorded line of a source is shown, not the last 50 of a source seen anew.
        self.collector = FeedCollector(backlog=LineFeed().capacity)
        self.timeline = Timeline()
        self.history = ChartHistory()
        self._health_seen = -1
        self._last_status = None
        self._first_sample_at = None
        self.node_log = NodeLogFollower(self.ops.cluster)
        self._lesson_drawn = 0  # the lesson records the lesson pane shows

    def start_timers(self) -> None:
        """The playback's clock, and the selected node's recorded log."""
        self.set_interval(TICK_SECONDS, self.tick)
        self.set_interval(NODE_LOG_SECONDS, self._follow_node_log)
        self.show_position()

    def greet(self) -> None:
        """What was wrong with the file's end, if anything (nothing was attached to)."""
        if self.replay.recording.notice:
            self.report(outcomes.warn(self.replay.recording.notice))

    def tick(self) -> None:
        now = self.clock()
        elapsed, self._ticked = now - self._ticked, now
        if self._dashboard_shown():
            self.play(self.playback.advance(elapsed))

    def _dashboard_shown(self) -> bool:
        """Not while the panels are composed again (a seek back): they are not all there."""
        return super()._dashboard_shown() and not self._seeking

    def play(self, records: Iterable[Record]) -> None:
        """Hand records to the panels: each cluster view to the timeline, the charts and the
        sparkline as it comes; the rest, and the status line and node table, drawn once at the
        end (the messages in one batch too: the panel keeps its newest rows).  So a jump through
        a long session costs what its timeline does, not a drawing per cluster view."""
        self.replay.messages.held = True
        try:
            for record in records:
                if record.kind == "note":
                    self.drain()
                    when, lines = record.data["when"], record.data["lines"]
                    self.query_one(ClusterPanel).note(when, list(lines))
                    continue
                self.replay.apply(record)
                if record.kind == "health" and self._dashboard_shown():
                    self._show_health(self.ops.health.latest, draw=False)
        finally:
            self.replay.messages.held = False
        if self._dashboard_shown():
            self.draw_health(self.ops.health.latest)
            self.drain()
            if self._lesson_drawn != self.replay.lesson_changes:
                self._lesson_drawn = self.replay.lesson_changes
                self.query_one(LessonPane).draw(self.replay.lesson)
            self.show_position()

    def show_position(self) -> None:
        """``REPLAY file 0:42.0/3:10.5 paused 1×`` first on the status line."""
        where = f"REPLAY {self.replay.path.name} {self.playback.position()}"
        self.query_one(StatusBar).show_replay(where)

    # -- keys --------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Every key, the replay's first."""
        self.push_screen(HelpScreen(self.role, replay=True))

    def action_replay_pause(self) -> None:
        self.playback.paused = not self.playback.paused
        self._ticked = self.clock()
        self.show_position()

    def action_lesson_step(self) -> None:
        """``.``: the next record (pausing first)."""
        self.playback.paused = True
        self.play(self.playback.step())

    def action_replay_speed(self, direction: int) -> None:
        speed = self.playback.faster(direction)
        self.show_position()
        self.report(Outcome(f"replay at {speed_text(speed)}", "ok"))

    async def action_replay_seek(self, direction: int) -> None:
        await self.seek(self.playback.now + direction * SEEK_SECONDS)

    async def action_replay_start(self) -> None:
        await self.seek(0.0)

    async def action_replay_end(self) -> None:
        await self.seek(self.playback.duration)

    async def seek(self, target: float) -> None:
        """Show the recording at ``target`` seconds: forward plays the records between; back
        composes the panels again and plays the records from the first."""
        if self._seeking:
            return
        if target < self.playback.now:
            active = self.query_one(TabbedContent).active
            self._seeking = True
            try:
                self.replay.reset()
                self._fresh_state()
                self.playback.rewind()
                await self.recompose()
            finally:
                self._seeking = False
            self.action_show_panel(active or "cluster")
        self.play(self.playback.until(target))

    # -- what a replay cannot do -------------------------------------------------------------

    def on_requested(self, message: Requested) -> None:
        """Operations that would need the cluster say so in one line (the dashboard's own
        handler, which runs after this one, then does not run)."""
        if message.operation.name not in _VIEWING:
            message.prevent_default()
            self.report(outcomes.warn(READ_ONLY))

    def action_panel_key(self, number: int) -> None:
        """A digit while the recorded lesson asks: the seats answered when it was recorded."""
        lesson = self.replay.lesson
        if lesson is not None and lesson.state == "asking":
            self.report(outcomes.warn(READ_ONLY))
            return
        super().action_panel_key(number)

    def open_lesson(self, path: Path) -> None:
        """A lesson drives a cluster: there is none."""
        self.report(outcomes.warn(READ_ONLY))
