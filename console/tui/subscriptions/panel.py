"""The persistent subscriptions table: checkpoints, deliveries, in flight, parked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Static

from console.ops.formatting import CHECKPOINT_NOTE
from console.ops.subscriptions import COUNTERS_NOTE, ConsumerPolicy, SubscriptionRow
from console.tui.requests import catalogue_bindings
from console.tui.table_panel import TablePanel
from console.tui.table_sync import Cell, Row, cell_width, room_for_last, sync_table

# Narrower than this, a selector would fold onto more lines than it is worth.
SELECTOR_MIN = 16


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def _consumer_cell(row: SubscriptionRow) -> Text:
    """This console's consumer and its policy, short: ``✓ acks all``, ``✓ park 1/2`` (yellow
    when it nacks some); ``↻`` in yellow while it reconnects, ``✗`` in red once it failed."""
    if not row.consuming_here:
        return Text("-", style="dim")
    if row.consumer_state in ("reconnecting", "failed"):
        mark, style = ("↻", "yellow") if row.consumer_state == "reconnecting" else ("✗", "red")
        return Text(f"{mark} {row.consumer_state}", style=style)
    policy = row.policy or ConsumerPolicy()
    if policy.acks_all:
        return Text("✓ acks all", style="green")
    return Text(f"✓ {policy.action.removeprefix('nack_')} 1/{policy.every}", style="yellow")


def subscription_cells(row: SubscriptionRow) -> list[Cell]:
    """One subscription's cells."""
    return [
        row.name,
        _consumer_cell(row),
        _value(row.checkpoint),
        str(row.in_flight),
        Text(str(row.parked), style="yellow" if row.parked else ""),
        str(row.acked),
        str(row.delivered),
        str(row.consumers),
        row.selector,
    ]


def subscription_rows(rows: list[SubscriptionRow]) -> list[Row]:
    """The table's rows, keyed by subscription name."""
    return [(row.name, subscription_cells(row)) for row in rows]


def compact_cells(cells: Sequence[Cell]) -> list[Cell]:
    """A row's cells for a narrow table: the consumer's mark alone, no selector."""
    name, here, *counters, _selector = cells
    mark = Text(here.plain[:1], style=here.style) if isinstance(here, Text) else here
    return [name, mark, *counters]


def detail_line(cells: Sequence[Cell]) -> Text:
    """What a narrow table leaves out, for one row: its consumer's policy and its selector."""
    name, here, *_counters, selector = cells
    consumer = Text("not consumed here") if str(here) == "-" else Text.assemble("here ", here)
    return Text.assemble(name, " · ", consumer, " · selector ", selector)


class SubscriptionsPanel(TablePanel):
    """Subscriptions: create, delete, consume here, ack/nack settings, replay parked, monitor."""

    COLUMNS = (
        "Name",
        "Here",  # next to the name: the consumer's policy stays visible at 80 columns
        # What a lesson on acks watches first comes first; the selector, as long as a pattern
        # makes it, comes last, so at 80 columns it is the one that runs off to the right.
        "Checkpoint",
        "In flight",
        "Parked",
        "Acked",
        "Delivered",
        "Consumers",
        "Selector",
    )
    # Too narrow for the whole table (80 columns), the selector and the consumer's policy leave
    # it for a line under it about the selected subscription: every column left is whole.
    COMPACT_COLUMNS = COLUMNS[:-1]
    EMPTY_HINT = "No subscriptions yet: n creates one (this console then consumes and acks it)"
    BINDINGS: ClassVar[list[BindingType]] = [*catalogue_bindings("subscriptions")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []  # the whole rows last shown, to lay out again at a new width
        self.selector_width: int | None = 0  # the Selector column's width; None: compact
        self.note = COUNTERS_NOTE  # the counters' footnote: Gate's until a view says JetStream

    @property
    def compact(self) -> bool:
        """Whether the table leaves out the selector and the consumer's policy."""
        return self.selector_width is None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static(classes="detail")
        yield Static(self._footnote(), classes="footnote")

    def _footnote(self) -> str:
        return "\n".join((CHECKPOINT_NOTE, " ".join(self.note)))

    def show_note(self, note: tuple[str, str]) -> None:
        """The counters' footnote for the cluster's backend (``counters_note``)."""
        if note != self.note:
            self.note = note
            self.query_one(".footnote", Static).update(self._footnote())

    def show_rows(self, rows: Sequence[Row]) -> None:
        """Show these rows, whole (long selectors folded) or compact as the width allows; the
        footnote under them only when there are some."""
        self.rows = list(rows)
        table = self.table
        cells = [row_cells for _, row_cells in rows]
        room = room_for_last(table, self.COLUMNS, cells)
        widest = max([len("Selector"), *(cell_width(row_cells[-1]) for row_cells in cells)])
        width = None if room < min(widest, SELECTOR_MIN) else min(room, widest)
        selected, rebuilt = self.selected, width != self.selector_width
        if rebuilt:
            self.selector_width = width
            table.clear(columns=True)
            table.add_columns(*(self.COMPACT_COLUMNS if width is None else self.COLUMNS))
            if width is not None:
                selector = table.ordered_columns[-1]
                selector.width, selector.auto_width = width, False
        shown = [(key, compact_cells(c)) for key, c in rows] if width is None else rows
        sync_table(table, shown, height=None)
        self.query_one(".empty-hint", Static).display = not rows
        if rebuilt and selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))  # the same subscription
        self.query_one(".footnote", Static).display = bool(rows)
        self._show_detail()

    def on_resize(self) -> None:
        """Lay the rows out again for the new width."""
        self.show_rows(self.rows)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The detail line follows the cursor."""
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one(".detail", Static)
        cells = dict(self.rows).get(self.selected or "")
        detail.display = self.compact and cells is not None
        if cells is not None:
            detail.update(detail_line(cells))
