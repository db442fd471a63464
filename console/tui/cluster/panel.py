"""The cluster panel: one row per node, node actions on the selected row, the timeline below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, RichLog, Static

from console.ops.cluster import NODE_LEGEND, ClusterStatus, NodeRow
from console.ops.formatting import latency_text
from console.tui.requests import Requested
from console.tui.table_sync import Cell, Row, selected_key, sync_table

COLUMNS = ("Node", "Role", "HTTP", "TCP", "Term", "Commit", "Applied", "Lag", "Probe")
TIMELINE_LINES = 200
_ROLE_STYLES = {
    "leader": "bold black on green",
    "follower": "green",
    "candidate": "bold black on yellow",
    "down": "bold white on red",
    "paused": "bold black on cyan",
}


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _state(up: bool) -> Text:
    # Coloured as well, for terminals and renderers that draw emoji in one colour.
    return Text("🟢", style="green") if up else Text("🔴", style="red")


def node_cells(node: NodeRow) -> list[Cell]:
    """The table cells of one node: the leader's row stands out, a down node is red."""
    role = node.shown_role
    star = "★ " if role == "leader" else ("☆ " if node.preferred else "  ")
    name_style = "bold green" if role == "leader" else ("red" if role == "down" else "")
    lag_style = "yellow" if (node.lag or 0) > 0 else ""
    probe = node.tcp_latency_ms if node.tcp_up else node.http_latency_ms
    return [
        Text(star + node.node_id, style=name_style),
        Text(f" {role} ", style=_ROLE_STYLES.get(role, "")),
        _state(node.http_up),
        _state(node.tcp_up),
        _number(node.term),
        _number(node.commit_position),
        _number(node.applied_position),
        Text(_number(node.lag), style=lag_style),
        latency_text(probe if node.up else None),
    ]


class ClusterPanel(Vertical):
    """Node health and the failover timeline; keys act on the selected node."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "node('stop')", "Stop"),
        Binding("k", "node('kill')", "Kill"),
        Binding("p", "node('pause')", "Pause"),
        Binding("u", "node('resume')", "Resume"),
        Binding("r", "node('restart')", "Restart"),
        Binding("t", "node('start')", "Start"),
    ]

    def compose(self) -> ComposeResult:
        table: DataTable[Cell] = DataTable(cursor_type="row", id="nodes")
        table.add_columns(*COLUMNS)
        yield table
        yield Static(NODE_LEGEND, classes="footnote")
        timeline = RichLog(max_lines=TIMELINE_LINES, id="timeline")
        timeline.border_title = "Timeline"
        yield timeline

    def show(self, status: ClusterStatus) -> None:
        """Show a new look at the cluster (a diff of the table)."""
        rows: Sequence[Row] = [(node.node_id, node_cells(node)) for node in status.nodes]
        sync_table(self.query_one("#nodes", DataTable), rows)

    def note(self, when: str, sentences: list[str]) -> None:
        """Add what just happened to the timeline."""
        if sentences:
            lines = [Text.assemble((f"{when} ", "dim"), sentence) for sentence in sentences]
            self.query_one("#timeline", RichLog).write(Text("\n").join(lines))

    @property
    def selected_node(self) -> str | None:
        """The node under the cursor."""
        return selected_key(self.query_one("#nodes", DataTable))

    def action_node(self, action: str) -> None:
        """Ask for a node action on the selected node (the app runs it and reports)."""
        node = self.selected_node
        if node is not None:
            self.post_message(Requested(f"node_{action}", node))
