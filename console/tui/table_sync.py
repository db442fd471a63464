"""Update a DataTable by difference, so a refresh touches only the cells that changed.

Rebuilding a table on every refresh resets the cursor and re-measures every cell; the panels
instead hand over the rows they want, keyed, and only additions, removals and changed cells
reach the widget.  Callers run it inside ``App.batch_update()`` with the rest of a refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, Sequence[Cell]]  # a row key and its cells, in column order


def sync_table(table: DataTable[Cell], rows: Sequence[Row], *, height: int | None = 1) -> bool:
    """Make ``table`` show ``rows`` (in that order for new rows); True when anything changed.
    New rows are ``height`` lines tall; None fits them to their cells (a column that folds)."""
    wanted = dict(rows)
    changed = False
    for gone in [key for key in table.rows if key.value not in wanted]:
        table.remove_row(gone)
        changed = True
    columns = list(table.columns)
    for key, cells in rows:
        if key not in table.rows:
            table.add_row(*cells, key=key, height=height)
            changed = True
            continue
        current = table.get_row(key)
        for column, old, new in zip(columns, current, cells, strict=True):
            if old != new:
                # A grown cell widens its column (by default a column keeps its first width
                # and cuts what no longer fits, e.g. a rate going from 5.0/s to 15.0/s).
                table.update_cell(key, column, new, update_width=True)
                changed = True
    return changed


def selected_key(table: DataTable[Cell]) -> str | None:
    """The key of the row under the cursor, or None in an empty table."""
    if table.row_count == 0:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value


def cell_width(cell: Cell) -> int:
    """The columns a cell takes on one line."""
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def room_for_last(
    table: DataTable[Cell], labels: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> int:
    """The columns left for the last column's content if ``table`` had these column labels and
    rows, its other columns as wide as their labels and cells: what keeps the table within its
    width (a vertical scrollbar's width kept free, as a long page shows one)."""
    pad = 2 * table.cell_padding
    used = sum(
        max([cell_len(label), *(cell_width(row[i]) for row in rows)]) + pad
        for i, label in enumerate(labels[:-1])
    )
    return table.size.width - table.styles.scrollbar_size_vertical - used - pad
