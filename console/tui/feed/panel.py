"""The live events panel: a bounded log of feed lines, paused or following, with a filter."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, RichLog, Static

from console.tui.feed.lines import FeedLine, render_lines, source_width

LOG_LINES = 500  # lines the log widget holds
RETAINED = 2000  # lines kept to re-filter when the filter changes
# Lines rendered per batch or re-filter: far more than a screen shows, far fewer than a flood
# brings, so a burst of events or a keystroke in the filter costs a bounded amount of work.
SHOWN_PER_BATCH = 40


class FeedPanel(Vertical):
    """Lines from the selected observers and consumers, newest at the bottom."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("space", "toggle_pause", "Pause/follow"),
        Binding("c", "clear", "Clear"),
        Binding("escape", "clear_filter", "No filter", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.retained: deque[FeedLine] = deque(maxlen=RETAINED)
        self.needle = ""
        self.paused = False
        self.missed = 0
        self.sources: list[str] = []
        self.stale = False  # lines came while the panel was hidden; rewrite when shown
        self._status = ""
        self.source_width = 0  # only grows, so the batches' columns line up
        self._drawn_width = 0  # the log's width its lines were wrapped at

    def compose(self) -> ComposeResult:
        yield Static(id="feed-status", markup=False)  # quotes the filter as typed
        yield Input(
            placeholder="filter: a stream, event type, value…", compact=True, id="feed-filter"
        )
        yield RichLog(max_lines=LOG_LINES, id="feed-log")

    def on_mount(self) -> None:
        self.query_one("#feed-filter", Input).display = False
        self._show_status()

    def add_lines(self, lines: list[FeedLine], missed: int = 0, *, visible: bool = True) -> None:
        """Take one drained batch: one write to the log, only what it can show (nothing while
        the panel is hidden: it catches up when shown)."""
        self.retained.extend(lines)
        self.missed += missed
        if not visible:
            self.stale = True
            return
        if self.paused:
            self._show_status()
            return
        matching = [line for line in lines if line.matches(self.needle)]
        skipped = missed + max(0, len(matching) - SHOWN_PER_BATCH)
        note = None
        if skipped:
            note = Text(f"… {skipped} lines skipped: the feed runs fast", style="yellow")
        shown = matching[-SHOWN_PER_BATCH:]
        if shown or note is not None:
            self._write(shown, note)
        self._show_status()

    def _write(self, lines: list[FeedLine], note: Text | None = None) -> None:
        self.source_width = max(self.source_width, source_width([line.source for line in lines]))
        log = self.query_one(RichLog)
        self._drawn_width = log.scrollable_content_region.width
        log.write(render_lines(lines, self.source_width, note))

    def set_sources(self, sources: list[str]) -> None:
        """Name the observers and consumers the feed shows."""
        if sources != self.sources:
            self.sources = sources
            self._show_status()

    def _show_status(self) -> None:
        names = ", ".join(self.sources) if self.sources else "none: create an observer (3, then n)"
        state = "⏸ paused" if self.paused else "following"
        parts = [f"Sources: {names}", state]
        if self.needle:
            parts.append(f"filter “{self.needle}”")
        if self.missed:
            parts.append(f"{self.missed} skipped")
        text = " · ".join(parts)
        if text != self._status:
            self._status = text
            # One fixed line: no layout pass (a layout per batch costs more than the batch).
            self.query_one("#feed-status", Static).update(text, layout=False)

    def catch_up(self) -> None:
        """Show what came while the panel was hidden."""
        if self.stale and not self.paused:
            self._rewrite()

    def _rewrite(self) -> None:
        self.stale = False
        log = self.query_one(RichLog)
        log.clear()
        shown = [line for line in self.retained if line.matches(self.needle)][-SHOWN_PER_BATCH:]
        if shown:
            self._write(shown)
        self._show_status()

    def on_resize(self, event: events.Resize) -> None:
        """Lines are wrapped when written: wrap them again at the new width."""
        width = self.query_one(RichLog).scrollable_content_region.width
        if self._drawn_width and width != self._drawn_width:
            if self.paused:
                self.stale = True
            else:
                self._rewrite()

    def action_filter(self) -> None:
        """Show the filter box and type into it."""
        box = self.query_one("#feed-filter", Input)
        box.display = True
        self.screen.set_focus(box)  # now, so the keys typed right after land in the box

    def action_clear_filter(self) -> None:
        """Drop the filter and hide its box."""
        box = self.query_one("#feed-filter", Input)
        box.value = ""
        box.display = False
        self.query_one(RichLog).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Re-filter as the filter is typed."""
        if event.input.id == "feed-filter":
            self.needle = event.value.strip().lower()
            self._rewrite()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and goes back to the log."""
        if event.input.id == "feed-filter":
            event.input.display = bool(event.value)
            self.query_one(RichLog).focus()

    def action_toggle_pause(self) -> None:
        """Stop or resume following (lines keep arriving in the background)."""
        self.paused = not self.paused
        if not self.paused:
            self._rewrite()
        self._show_status()

    def action_clear(self) -> None:
        """Empty the feed."""
        self.retained.clear()
        self.missed = 0
        self._rewrite()
