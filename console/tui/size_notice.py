"""The notice a terminal too small for the dashboard gets instead of a garbled screen.

Below :data:`MIN_SIZE` the panels, footers and dialogs cannot all be drawn whole, so the app
covers them with one centred notice naming the size it needs; the notice goes away by itself
as soon as the terminal is large enough again, and the dashboard is back as it was.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static

MIN_SIZE = Size(80, 24)  # every panel and dialog is laid out (and snapshot-tested) at 80x24


def too_small(size: Size) -> bool:
    """Whether a terminal of this size is below the dashboard's minimum."""
    return size.width < MIN_SIZE.width or size.height < MIN_SIZE.height


def notice_text(size: Size) -> str:
    """What the notice says for a terminal of this size."""
    return (
        f"Gate console needs a terminal of at least {MIN_SIZE.width}×{MIN_SIZE.height}.\n"
        f"This one is {size.width}×{size.height}: make it larger to go on.\n"
        "Ctrl+Q quits."
    )


class SizeNotice(Screen[None]):
    """Covers the dashboard while the terminal is too small; closes itself once it is not."""

    DEFAULT_CSS = """
    SizeNotice {
        align: center middle;
        background: $background;
    }
    SizeNotice #size-notice {
        width: auto;
        max-width: 100%;
        height: auto;
        text-align: center;
        color: $warning;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static(notice_text(self.app.size), id="size-notice")

    def on_resize(self, event: events.Resize) -> None:
        """Say the new size, or go once the terminal is large enough."""
        self._check(event.size)

    def on_screen_resume(self) -> None:
        """The terminal may have grown while a screen was over the notice."""
        self._check(self.app.size)

    def _check(self, size: Size) -> None:
        if too_small(size):
            self.query_one("#size-notice", Static).update(notice_text(size))
        elif self.is_active:  # not under a dialog a worker opened meanwhile: that one would go
            self.dismiss()
