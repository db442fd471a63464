"""The cluster panel: one row per node, node actions on the selected row, the selected node's
inside (its vote, uptime, election timer; the leader's match/next of each follower), the
timeline below, and under it the selected node's own log (why it did what the timeline shows).

From 120 columns the table also has each node's vote, election timer (a bar that empties as the
timeout nears, as RaftScope's ring does) and uptime, so a room sees every timer at once; the
lines under the legend tell the selected node's in words at every width."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import DataTable, RichLog, Static

from console.ops.cluster import (
    NODE_LEGEND,
    ClusterStatus,
    NodeLogLine,
    NodeLogUpdate,
    NodeRow,
    uptime_text,
)
from console.ops.formatting import latency_text
from console.tui.requests import catalogue_bindings, request, role_allows
from console.tui.table_sync import Cell, Row, selected_key, sync_table

# "Up": the HTTP and the TCP probe, in that order; "Log": the span of the Raft log the node holds.
COLUMNS = ("Node", "Role", "Up", "Term", "Commit", "Applied", "Lag", "Log", "Probe")
WIDE_COLUMNS = (*COLUMNS, "Vote", "Timer", "Uptime")  # from WIDE columns
WIDE = 120
TIMER_CELLS = 6
TIMELINE_LINES = 200
NODE_LOG_LINES = 500
_LEVEL_STYLES = {"warning": "yellow", "error": "bold red"}
_ROLE_STYLES = {
    "leader": "bold black on green",
    "follower": "green",
    "candidate": "bold black on yellow",
    "down": "bold white on red",
    "paused": "bold black on cyan",
    "learner": "cyan",
    "repairing": "bold black on yellow",
}


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _state(up: bool) -> Text:
    # Coloured as well, for terminals and renderers that draw emoji in one colour.
    return Text("🟢", style="green") if up else Text("🔴", style="red")


def _probes(node: NodeRow) -> Text:
    """The HTTP and the TCP probe side by side: one column, so the log span fits 80 columns."""
    return Text.assemble(_state(node.http_up), _state(node.tcp_up))


def node_cells(node: NodeRow) -> list[Cell]:
    """The table cells of one node: the leader's row stands out, a down node is red."""
    role = node.shown_role
    star = "★ " if role == "leader" else ("☆ " if node.preferred else "  ")
    name_style = "bold green" if role == "leader" else ("red" if role == "down" else "")
    if node.cut:
        name_style += " yellow" if role != "leader" else ""
    lag_style = "yellow" if (node.lag or 0) > 0 else ""
    probe = node.tcp_latency_ms if node.tcp_up else node.http_latency_ms
    return [
        Text(star + node.marked_id, style=name_style),
        Text(f" {role} ", style=_ROLE_STYLES.get(role, "")),
        _probes(node),
        _number(node.term),
        _number(node.commit_position),
        _number(node.applied_position),
        Text(_number(node.lag), style=lag_style),
        node.log_span if node.up else "-",
        latency_text(probe if node.up else None),
    ]


def timer_bar(node: NodeRow, cells: int = TIMER_CELLS) -> Text:
    """The election timer as a bar that empties as the timeout nears: green, then yellow, red
    near the end; ``-`` on the leader (it times nothing out: its check of a quorum is in the
    words under the table) and when unknown."""
    left = node.timer_left
    if left is None or not node.up or node.shown_role == "leader":
        return Text("-")
    full = round(left * cells)
    style = "green" if left > 0.5 else ("yellow" if left > 0.2 else "bold red")
    return Text.assemble(("█" * full, style), ("░" * (cells - full), "dim"))


def inside_cells(node: NodeRow) -> list[Cell]:
    """The wide table's extra cells: vote, election timer, uptime."""
    if not node.up:
        return ["-", Text("-"), "-"]
    return [node.voted_for or "-", timer_bar(node), uptime_text(node.uptime_s)]


def node_log_text(line: NodeLogLine) -> Text:
    """One line of a node's log: its time, then its words, coloured by level."""
    return Text.assemble((f"{line.clock} ", "dim"), (line.text, _LEVEL_STYLES.get(line.level, "")))


class RewrappingLog(RichLog):
    """A log that wraps its lines again when its width changes.

    RichLog keeps each line as it was wrapped when written, so after the terminal narrows the
    end of a long line would be cut off; this one keeps what it was given and writes it again.
    """

    def __init__(self, *, max_lines: int, id: str) -> None:
        # min_width 1: wrap at the pane's width, never at RichLog's default of 78 columns.
        super().__init__(max_lines=max_lines, min_width=1, wrap=True, id=id)
        self._kept: deque[Text] = deque(maxlen=max_lines)
        self._wrapped_at = 0
        self._stale = False  # lines came while it had no width

    def add(self, text: Text) -> None:
        self._kept.append(text)
        if self._size_known and self.scrollable_content_region.width == 0:
            # Hidden under another tab: wrapping now would put one character on each line.
            self._stale = True
            return
        self.write(text)

    def forget(self) -> None:
        self._kept.clear()
        self._stale = False
        self.clear()

    def on_resize(self, event: Resize) -> None:
        # RichLog's own handler (run after this one) writes what waited for a first size.
        width = event.size.width
        if self._size_known and width and (self._stale or width != self._wrapped_at):
            self._rewrite()
        elif self.auto_scroll:
            # Shorter (a lesson pane opened under the panels): the newest lines stay in sight.
            self.scroll_end(animate=False, immediate=False)
        self._wrapped_at = width

    def on_show(self) -> None:
        if self._stale and self.scrollable_content_region.width:
            self._rewrite()

    def _rewrite(self) -> None:
        self._stale = False
        self.clear()
        for text in self._kept:
            self.write(text)


class ClusterPanel(Vertical):
    """Node health and the failover timeline; keys act on the selected node."""

    BINDINGS: ClassVar[list[BindingType]] = [*catalogue_bindings("cluster")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._log_node: str | None = None  # whose log the node-log pane holds
        self._log_error: str | None = None  # why that node's log cannot be read, if so
        self._status: ClusterStatus | None = None
        self._wide = False  # the table has the wide columns

    def compose(self) -> ComposeResult:
        table: DataTable[Cell] = DataTable(cursor_type="row", id="nodes")
        table.add_columns(*COLUMNS)
        yield table
        yield Static(NODE_LEGEND, classes="footnote", id="node-legend")
        yield Static("", classes="inside", id="node-inside", markup=False)
        timeline = RichLog(max_lines=TIMELINE_LINES, id="timeline")
        timeline.border_title = "Timeline"
        yield timeline
        node_log = RewrappingLog(max_lines=NODE_LOG_LINES, id="node-log")
        node_log.border_title = "Node log"
        yield node_log

    def show(self, status: ClusterStatus) -> None:
        """Show a new look at the cluster (a diff of the table)."""
        self._status = status
        wide = self._wide
        rows: Sequence[Row] = [
            (node.node_id, node_cells(node) + (inside_cells(node) if wide else []))
            for node in status.nodes
        ]
        sync_table(self.query_one("#nodes", DataTable), rows)
        legend = self.query_one("#node-legend", Static)
        if legend.content != status.legend:
            legend.update(status.legend)
        self._show_inside()

    def _show_inside(self) -> None:
        """The selected node's inside, in words."""
        status, node = self._status, self.selected_node
        lines = status.inside(node) if status is not None and node is not None else []
        pane = self.query_one("#node-inside", Static)
        text = "\n".join(lines)
        if pane.content != text:
            pane.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Another node selected: its inside at once (the app shows its log)."""
        if event.data_table.id == "nodes":
            self._show_inside()

    def on_resize(self, event: Resize) -> None:
        """The wide columns come and go with the width."""
        wide = event.size.width >= WIDE
        if wide == self._wide:
            return
        self._wide = wide
        table = self.query_one("#nodes", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(WIDE_COLUMNS if wide else COLUMNS))
        if self._status is not None:
            self.show(self._status)
            table.move_cursor(row=cursor)

    def note(self, when: str, sentences: list[str]) -> None:
        """Add what just happened to the timeline."""
        if sentences:
            lines = [Text.assemble((f"{when} ", "dim"), sentence) for sentence in sentences]
            self.query_one("#timeline", RichLog).write(Text("\n").join(lines))

    def show_node_log(self, update: NodeLogUpdate) -> None:
        """Add what is new in the selected node's log; another node's log starts afresh."""
        pane = self.query_one("#node-log", RewrappingLog)
        title = f"Log of {update.node_id} (why it does what it does)"
        if self._log_node != update.node_id:
            self._log_node = update.node_id
            self._log_error = None
            pane.forget()
        if update.error is not None:
            if update.error != self._log_error:  # once, not at every look
                pane.add(Text(f"⚠ {update.error}", style="yellow"))
            self._log_error = update.error
            pane.border_title = f"{title} · no answer"
            return
        self._log_error = None
        pane.border_title = title
        if update.restarted:
            pane.add(Text(f"── {update.node_id} started again ──", style="bold"))
        if update.missed:
            pane.add(Text(f"… {update.missed} lines went by unseen", style="dim"))
        for line in update.lines:
            pane.add(node_log_text(line))

    @property
    def selected_node(self) -> str | None:
        """The node under the cursor."""
        return selected_key(self.query_one("#nodes", DataTable))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of operations the console's role may not run are hidden (and do nothing)."""
        return role_allows(self, action, parameters)

    def action_request(self, name: str) -> None:
        """Ask for a node action on the selected node (the app runs it and reports)."""
        node = self.selected_node
        if node is not None:
            self.post_message(request(name, node))
