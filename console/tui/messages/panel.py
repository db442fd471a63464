"""The Messages panel: a live sequence diagram of the cluster's Raft messages.

One lane per node, one row per message (an arrow from sender to receiver), newest at the
bottom; heartbeats are one row per interval (each its own row in slow motion) and a full write
rate a few summary rows (the gateway folds them: docs/API.md, "Message trace").  The selected
row's fields show beneath; ``d`` drops the selected message if it is still on its way, and its
row ends in ✗.  Rows are drawn once, when they arrive; the table keeps the last :data:`ROWS`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.ops.messages import NAMES, TraceLine, clock
from console.tui.messages.diagram import LANE, header, lanes, style
from console.tui.requests import catalogue_bindings, request, role_allows

ROWS = 300  # rows kept in the table
TIME_WIDTH = 9  # MM:SS.mmm
MIN_WORDS = 32  # columns a message's words get at least (the detail line has them all)
CHROME = 8  # the cells' padding and the scrollbar
# Fields the detail line does not repeat (they are in its first words).
_SHOWN = {"kind", "type", "frm", "to", "time", "node", "nodes"}


def detail(line: TraceLine) -> str:
    """The selected line in full."""
    fields: dict[str, Any] = dict(line.fields)
    if line.kind in ("message", "summary"):
        name = NAMES.get(line.type, line.type)
        what = "sent by" if fields.get("dir", "send") == "send" else "received by"
        head = f"{name} {line.frm} → {line.to}"
        if line.kind == "message":
            head += f", {what} {fields.get('node')} at {clock(line.time)} (seq {fields.get('seq')})"
        else:
            head += f", from {clock(line.time)}"
        rest = [f"{k.replace('_', ' ')} {_value(v)}" for k, v in fields.items() if k not in _SHOWN]
        rest = [r for r in rest if not r.startswith(("seq ", "dir "))]
        return head + "\n" + " · ".join(rest)
    if line.kind == "heartbeats":
        return (
            f"{line.text} between {', '.join(line.nodes)} from {clock(line.time)}: empty "
            "AppendEntries and the answers confirming them, one row per interval"
        )
    return (
        f"{line.text}: the node's ring dropped them before the gateway read them, or this "
        "console fell behind the gateway"
    )


def message_id(line: TraceLine) -> tuple[str, int]:
    """(sender, seq in its trace) of a message line: what ``POST /api/cluster/links/drop``
    names."""
    fields = dict(line.fields)
    return str(fields.get("node")), int(fields.get("seq") or 0)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


class MessagesPanel(Vertical):
    """The sequence diagram and the selected message's fields."""

    DEFAULT_CSS = """
    MessagesPanel #message-detail { height: 3; padding: 0 1; border-top: solid $primary-darken-2; }
    MessagesPanel #messages-status { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "follow", "Follow"),
        Binding("c", "clear", "Clear"),
        *catalogue_bindings("messages"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[TraceLine] = deque(maxlen=ROWS)
        self.nodes: list[str] = []
        self.following = True
        self.missed = 0
        self._problem = ""
        self._next_key = 0
        self._width = 0  # the terminal width the columns were sized for
        self.dropped: set[tuple[str, int]] = set()  # (sender, seq) of the messages dropped

    def compose(self) -> ComposeResult:
        yield Static(id="messages-status", markup=False)
        yield DataTable(id="messages", cursor_type="row", zebra_stripes=False)
        yield Static("", id="message-detail", markup=False)

    def on_mount(self) -> None:
        self._rebuild()
        self._show_status()

    def on_resize(self) -> None:
        if self.app.size.width != self._width:
            self._rebuild()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#messages", DataTable)

    def set_nodes(self, nodes: list[str]) -> None:
        """The lanes: the cluster's nodes in order (redrawn only when they change)."""
        if nodes and nodes != self.nodes:
            self.nodes = list(nodes)
            self._rebuild()

    def show_problem(self, problem: str) -> None:
        if problem != self._problem:
            self._problem = problem
            self._show_status()

    def add(self, lines: list[TraceLine], missed: int = 0) -> None:
        """Take one drained batch: rows at the bottom, the oldest beyond ROWS dropped."""
        self.missed += missed
        if missed:
            self._show_status()
        if not lines:
            return
        unknown = sorted({n for line in lines for n in line.nodes} - set(self.nodes))
        if unknown:
            self.nodes += unknown
            self.lines.extend(lines)
            self._rebuild()
            return
        if len(lines) >= ROWS:  # all rows go: drawing the batch's last ROWS afresh is cheaper
            self.lines.extend(lines)
            self._rebuild()
            return
        table = self.table
        for line in lines:
            if len(self.lines) == self.lines.maxlen:
                table.remove_row(table.ordered_rows[0].key)
            self.lines.append(line)
            self._add_row(line)
        self._follow_tail()

    def _rebuild(self) -> None:
        table = self.table
        table.clear(columns=True)
        # Fixed widths (the words get what the terminal leaves): rows line up however and
        # whenever they arrived.
        lanes_width = LANE * len(self.nodes)
        words = max(MIN_WORDS, self.app.size.width - TIME_WIDTH - lanes_width - CHROME)
        table.add_column("time", width=TIME_WIDTH, key="time")
        table.add_column(header(self.nodes), width=lanes_width, key="lanes")
        table.add_column("message", width=words, key="message")
        self._width = self.app.size.width
        for line in self.lines:
            self._add_row(line)
        self._follow_tail()

    def _add_row(self, line: TraceLine) -> None:
        self._next_key += 1
        dropped = self._is_dropped(line)
        self.table.add_row(
            Text(clock(line.time), style="dim"),
            lanes(line, self.nodes, dropped),
            Text(("✗ " if dropped else "") + line.text, style=style(line, dropped)),
            key=str(self._next_key),
        )

    def _is_dropped(self, line: TraceLine) -> bool:
        return line.kind == "message" and message_id(line) in self.dropped

    @property
    def selected(self) -> TraceLine | None:
        """The line of the selected row."""
        row = self.table.cursor_row
        return self.lines[row] if 0 <= row < len(self.lines) else None

    def mark_dropped(self, line: TraceLine) -> None:
        """Draw ``line`` (a message) as dropped in flight: its arrow ends in ✗."""
        self.dropped.add(message_id(line))
        table = self.table
        for row, shown in enumerate(self.lines):
            if shown is line and row < table.row_count:
                key = table.ordered_rows[row].key
                table.update_cell(key, "lanes", lanes(line, self.nodes, True))
                table.update_cell(key, "message", Text("✗ " + line.text, style=style(line, True)))
        self._show_detail(table.cursor_row)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of operations the console's role may not run are hidden (and do nothing)."""
        return role_allows(self, action, parameters)

    def action_request(self, name: str) -> None:
        """Ask the app to run an operation on the selected message (``d``: drop it)."""
        self.post_message(request(name, None))

    def _follow_tail(self) -> None:
        table = self.table
        if self.following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
            self._show_detail(table.row_count - 1)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        row = event.cursor_row
        # Moving off the newest row stops following; back on it follows again.
        self.following = row == self.table.row_count - 1
        self._show_detail(row)
        self._show_status()

    def _show_detail(self, row: int) -> None:
        if 0 <= row < len(self.lines):
            line = self.lines[row]
            dropped = " · ✗ dropped in flight, never received" if self._is_dropped(line) else ""
            self.query_one("#message-detail", Static).update(detail(line) + dropped)

    def action_follow(self) -> None:
        """Back to the newest row, following from there."""
        self.following = True
        self._follow_tail()
        self._show_status()

    def action_clear(self) -> None:
        self.lines.clear()
        self.dropped.clear()
        self.missed = 0
        self._rebuild()
        self.query_one("#message-detail", Static).update("")
        self._show_status()

    def _show_status(self) -> None:
        if self._problem:
            text = self._problem
        else:
            state = "following" if self.following else "held (space follows)"
            text = f"Raft messages as each node sent them · {state}"
            if self.missed:
                text += f" · {self.missed} not shown (the screen fell behind)"
        self.query_one("#messages-status", Static).update(text)
