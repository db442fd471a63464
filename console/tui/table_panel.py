"""A panel that is one live table: rows by diff, an empty-state hint, keys that ask for
operations on the selected row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.tui.requests import request, role_allows
from console.tui.table_sync import Cell, Row, selected_key, sync_table


class TablePanel(Vertical):
    """Subclasses name their columns, their empty-state hint and their key bindings, whose
    actions are ``request('<operation>')`` (see ``catalogue_bindings``)."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    EMPTY_HINT: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield Static(self.EMPTY_HINT, classes="empty-hint")
        table: DataTable[Cell] = DataTable(cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table

    @property
    def table(self) -> DataTable[Cell]:
        """The panel's table."""
        return self.query_one(DataTable)

    def show_rows(self, rows: Sequence[Row]) -> None:
        """Show these rows (a diff of the table); the hint shows while there are none."""
        sync_table(self.table, rows)
        self.query_one(".empty-hint", Static).display = not rows

    @property
    def selected(self) -> str | None:
        """The key of the selected row."""
        return selected_key(self.table)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of operations the console's role may not run are hidden (and do nothing)."""
        return role_allows(self, action, parameters)

    def action_request(self, name: str) -> None:
        """Ask the app for an operation on the selected row."""
        self.post_message(request(name, self.selected))
