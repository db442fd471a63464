"""A yes/no question before a key that cannot be undone (kill, stop, deleting parked events).

``y`` or Enter on Yes goes ahead; ``n``, Esc or No does nothing.  Focus starts on No, so a
stray Enter after a key press never kills a node.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask before a destructive operation; dismisses with True to go ahead."""

    # Focused when the screen shows; an on_mount query failed when a key had already answered
    # and closed it before it mounted (the monkey, on a loaded machine).
    AUTO_FOCUS = "#no"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title", markup=False)
            if self.detail:
                yield Static(self.detail, classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes goes ahead, No does nothing."""
        event.stop()
        self.action_answer(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """The answer by key; only once, and only from the top: dismiss() pops whatever screen
        is on top, and a second press queued behind the first would pop the dashboard."""
        if self.is_active:
            self.dismiss(yes)
