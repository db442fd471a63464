"""The producers table: one greenhouse producer per stream, its rate and what it produced."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from console.ops.formatting import rate_text
from console.tui.requests import catalogue_bindings
from console.tui.table_panel import TablePanel
from console.tui.table_sync import Cell, Row
from domain.greenhouse.producer import ProducerRow

_STATE_STYLES = {"running": "green", "failed": "bold red", "stopped": "dim"}


def producer_cells(row: ProducerRow) -> list[Cell]:
    """One producer's cells."""
    state = Text(row.state, style=_STATE_STYLES.get(row.state, ""))
    if row.last_error and row.state == "failed":
        state.append(f" {row.last_error}", style="red")
    return [
        row.stream,
        row.mode,
        rate_text(row.rate),
        str(row.produced),
        str(row.last_version),
        Text(str(row.errors), style="yellow" if row.errors else ""),
        state,
    ]


def producer_rows(rows: list[ProducerRow]) -> list[Row]:
    """The table's rows, keyed by stream."""
    return [(row.stream, producer_cells(row)) for row in rows]


class ProducersPanel(TablePanel):
    """Producers: start some, stop the selected one."""

    COLUMNS = ("Stream", "Mode", "Rate", "Produced", "Version", "Errors", "State")
    EMPTY_HINT = "No producers yet: n starts greenhouse producers (3 by default)"
    BINDINGS: ClassVar[list[BindingType]] = [*catalogue_bindings("producers")]
