"""The persistent subscriptions table: checkpoints, deliveries, in flight, parked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from console.ops.formatting import CHECKPOINT_NOTE
from console.ops.subscriptions import COUNTERS_NOTE, ConsumerPolicy, SubscriptionRow
from console.tui.requests import catalogue_bindings
from console.tui.table_panel import TablePanel
from console.tui.table_sync import Cell, Row


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
    EMPTY_HINT = "No subscriptions yet: n creates one (this console then consumes and acks it)"
    BINDINGS: ClassVar[list[BindingType]] = [*catalogue_bindings("subscriptions")]

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("\n".join((CHECKPOINT_NOTE, " ".join(COUNTERS_NOTE))), classes="footnote")

    def show_rows(self, rows: Sequence[Row]) -> None:
        """Show these rows; the footnote under them only when there are some."""
        super().show_rows(rows)
        self.query_one(".footnote", Static).display = bool(rows)
