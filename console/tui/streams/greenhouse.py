"""A greenhouse folded from its stream, and the snapshots recorded for it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from console.ops.catalogue import operation
from console.ops.streams import GreenhouseView
from console.tui.requests import Requested
from domain.greenhouse.catalogue import ACTUATORS, MEASURES

_STATUS_STYLES = {"active": "green", "warning": "bold yellow", "inactive": "dim"}


def _value(value: object) -> str:
    return "-" if value is None else str(value)


def greenhouse_table(view: GreenhouseView) -> Table:
    """The aggregate's state: place, status, readings against targets, actuators."""
    house = view.greenhouse
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    # Names and places come from events people appended: shown as typed, never as markup.
    table.add_row("Greenhouse", Text(f"{house.greenhouse_id} · {_value(house.name)}"))
    place = ", ".join(_value(v) for v in (house.location, house.city, house.country))
    table.add_row("Place", Text(place))
    table.add_row("Status", Text(house.status, style=_STATUS_STYLES.get(house.status, "")))
    table.add_row("Version", str(house.version))
    for measure in MEASURES:
        current = _value(getattr(house, f"current_{measure}"))
        target = _value(getattr(house, f"target_{measure}"))
        table.add_row(measure.capitalize(), Text(f"{current} (target {target})"))
    actuators = ", ".join(
        f"{name} {'off' if house.actuators.get(name) is None else house.actuators[name]}"
        for name in ACTUATORS
    )
    table.add_row("Actuators", Text(actuators))
    return table


class GreenhouseScreen(ModalScreen[None]):
    """The greenhouse of one stream; ``s`` records a snapshot at its version."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("s", "snapshot", "Take snapshot"),
    ]

    def __init__(self, view: GreenhouseView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="greenhouse"):
            yield Static(
                f"🌱 Greenhouse {self.view.greenhouse.greenhouse_id}", classes="title", markup=False
            )
            yield Static(greenhouse_table(self.view), id="aggregate")
            yield Static(f"Snapshots ({len(self.view.snapshots)})", classes="subtitle")
            table: DataTable[str] = DataTable(cursor_type="row", id="snapshots")
            table.add_columns("Version", "Type", "Created")
            for snap in self.view.snapshots:
                table.add_row(f"v{snap.version}", str(snap.source_type), snap.created_at)
            yield table
        yield Footer()

    def action_snapshot(self) -> None:
        """Ask the app to record a snapshot (this view then closes; open it again to see it)."""
        self.app.post_message(
            Requested(operation("take_snapshot"), self.view.greenhouse.greenhouse_id)
        )
        self.dismiss(None)
