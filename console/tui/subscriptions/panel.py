"""The persistent subscriptions table: checkpoints, deliveries, in flight, parked."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from console.ops.subscriptions import SubscriptionRow
from console.tui.table_panel import TablePanel
from console.tui.table_sync import Cell, Row


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def subscription_cells(row: SubscriptionRow) -> list[Cell]:
    """One subscription's cells."""
    return [
        row.name,
        row.selector,
        _value(row.checkpoint),
        str(row.consumers),
        str(row.delivered),
        str(row.acked),
        str(row.in_flight),
        Text(str(row.parked), style="yellow" if row.parked else ""),
        Text("✓ acks all", style="green") if row.consuming_here else Text("-", style="dim"),
    ]


def subscription_rows(rows: list[SubscriptionRow]) -> list[Row]:
    """The table's rows, keyed by subscription name."""
    return [(row.name, subscription_cells(row)) for row in rows]


class SubscriptionsPanel(TablePanel):
    """Subscriptions: create, delete, consume here (acking), replay parked, monitor."""

    COLUMNS = (
        "Name",
        "Selector",
        "Checkpoint",
        "Consumers",
        "Delivered",
        "Acked",
        "In flight",
        "Parked",
        "Here",
    )
    EMPTY_HINT = "No subscriptions yet: n creates one (this console then consumes and acks it)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "request('create_subscription')", "New"),
        Binding("d", "request('delete_subscription')", "Delete"),
        Binding("c", "request('toggle_consumer')", "Consume here"),
        Binding("r", "request('replay_parked')", "Replay parked"),
        Binding("m", "request('monitor')", "Monitor"),
    ]
