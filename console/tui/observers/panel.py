"""The observers table: what each observer sees, how fast, and whether it is in the feed."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from console.ops.formatting import rate_text
from console.ops.observers import ObserverRow
from console.tui.requests import catalogue_bindings
from console.tui.table_panel import TablePanel
from console.tui.table_sync import Cell, Row

_STATE_STYLES = {
    "running": "green",
    "starting": "yellow",
    "reconnecting": "yellow",
    "failed": "bold red",
    "stopped": "dim",
}


def observer_cells(row: ObserverRow, in_feed: bool) -> list[Cell]:
    """One observer's cells."""
    state = Text(row.state, style=_STATE_STYLES.get(row.state, ""))
    if row.error:
        state.append(f" {row.error}", style="red")
    dropped = Text(str(row.dropped), style="yellow" if row.dropped else "")
    return [
        "✓" if in_feed else " ",
        row.name,
        str(row.seen),
        rate_text(row.rate),
        dropped,
        state,
        row.selector,
    ]


def observer_rows(rows: list[ObserverRow], in_feed: Collection[str]) -> list[Row]:
    """The table's rows, keyed by observer name."""
    return [(row.name, observer_cells(row, row.name in in_feed)) for row in rows]


class ObserversPanel(TablePanel):
    """Observers: create (three kinds), stop, monitor, choose which feed the live events."""

    # The selector, as long as a pattern makes it, comes last: at 80 columns it is the one that
    # runs off to the right, not the counts.
    COLUMNS = ("Feed", "Name", "Seen", "Rate", "Dropped", "State", "Selector")
    EMPTY_HINT = "No observers yet: n by stream · e by event type · p by payload pattern"
    BINDINGS: ClassVar[list[BindingType]] = [*catalogue_bindings("observers")]
