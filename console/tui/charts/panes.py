"""The chart panes under the Cluster, Feed and Subscriptions panels (``G`` shows or hides them).

On a terminal of at least ``FULL_SIZE`` a pane holds plotext charts with axes; on a smaller one
(80x24) it holds a few lines of sparklines, so the tables above keep their rows.  A pane draws
only when it is shown and its chart changed (a new sample, a new second of the feed, a new look
at the subscriptions) or its size did: the app's drain timer asks, no pane polls by itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.widgets import RichLog, Static
from textual_plotext import PlotextPlot

from console.tui.charts import draw
from console.tui.charts.history import METRICS, Chart, ChartHistory

KEY_MARGIN = 6  # the border title's corners and the spaces around it
FULL_SIZE = Size(120, 36)  # from this terminal size on: charts with axes, not sparklines


def full_size(size: Size) -> bool:
    """Whether a terminal this size gets the plotext charts."""
    return size.width >= FULL_SIZE.width and size.height >= FULL_SIZE.height


class ChartPane(Vertical):
    """One panel's charts: sparklines (small terminal) or plotext charts (roomy one)."""

    DEFAULT_CSS = """
    ChartPane {
        display: none;
        height: auto;
        border-top: solid $primary-darken-2;
    }
    ChartPane.full {
        height: 16;
    }
    ChartPane .sparklines {
        height: auto;
        padding: 0 1;
    }
    ChartPane .plot-key {
        display: none;
        height: auto;
        padding: 0 1;
    }
    ChartPane .plots {
        height: 1fr;
    }
    ChartPane .plot-note {
        height: 1;
        color: $text-muted;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """
    CHART: Chart
    PLOTS = 1

    def __init__(self, history: ChartHistory, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history
        self._drawn: tuple[int, Size, bool] | None = None  # what the pane shows now
        self._keep_at_end: list[RichLog] = []  # logs above it that showed their newest lines

    def compose(self) -> ComposeResult:
        yield Static(classes="sparklines")
        yield Static(classes="plot-key")
        with Horizontal(classes="plots"):
            for _ in range(self.PLOTS):
                yield PlotextPlot()
        yield Static(classes="plot-note")

    def toggle(self, at_end: list[RichLog]) -> None:
        """Show or hide the pane; the logs above it (``at_end``: those showing their newest
        lines) get shorter when it shows, and still show their newest lines once laid out."""
        self.display = not self.display
        panel = self.parent
        self._keep_at_end = (
            [log for log in at_end if panel in log.ancestors] if self.display else []
        )

    def redraw(self) -> None:
        """Draw the chart again if it changed since it was last drawn (and is shown)."""
        if not self.display:
            return
        full = full_size(self.app.size)
        drawn = (self.history.versions[self.CHART], self.size, full)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        self.query_one(".sparklines", Static).display = not full
        self.query_one(".plots", Horizontal).display = full
        self.set_class(full, "full")
        # The lines' names ride on the pane's top border, costing no row and hiding no line;
        # those that do not fit there go on lines above the plots.
        lines = draw.key_lines(self.key(), self._width() - KEY_MARGIN) if full else []
        self.border_title = lines[0] if lines else None
        rest = self.query_one(".plot-key", Static)
        rest.display = len(lines) > 1
        rest.update(Text("\n").join(lines[1:]))
        if full:
            plots = list(self.query(PlotextPlot))
            self.draw_full(plots)
            for plot in plots:
                plot.refresh()
        else:
            width = self._width() - 2  # the lines' padding
            self.query_one(".sparklines", Static).update(self.draw_compact(width))
        note = self.query_one(".plot-note", Static)
        note.display = full and bool(self.note())
        if full:
            note.update(self.note())

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def draw_full(self, plots: list[PlotextPlot]) -> None:
        raise NotImplementedError

    def draw_compact(self, width: int) -> Text:
        raise NotImplementedError

    def key(self) -> list[tuple[str, draw.RGB]]:
        """The plots' lines: each one's name and colour."""
        raise NotImplementedError

    def note(self) -> str:
        """A line under the plots (the cluster's: what its vertical lines mark)."""
        return ""

    def on_resize(self) -> None:
        # Laid out: so are the logs above, with their new heights.
        for log in self._keep_at_end:
            log.scroll_end(animate=False, immediate=True)
        self._keep_at_end = []
        self.redraw()


class ClusterCharts(ChartPane):
    """Per node, over the last 5 minutes: commit rate, lag and probe latency."""

    CHART = "cluster"
    PLOTS = len(METRICS)

    def draw_full(self, plots: list[PlotextPlot]) -> None:
        for plot, metric in zip(plots, METRICS, strict=True):
            draw.cluster_plot(plot.plt, self.history, metric)

    def draw_compact(self, width: int) -> Text:
        return draw.cluster_sparklines(self.history, width)

    def key(self) -> list[tuple[str, draw.RGB]]:
        return draw.cluster_key(self.history)

    def note(self) -> str:
        marks = draw.marks_text(self.history)
        return f"marked: {marks} (yellow: election, red: node down)" if marks else ""


class FeedCharts(ChartPane):
    """Events per second by event type."""

    CHART = "feed"

    def draw_full(self, plots: list[PlotextPlot]) -> None:
        draw.feed_plot(plots[0].plt, self.history)

    def draw_compact(self, width: int) -> Text:
        return draw.feed_sparklines(self.history, width)

    def key(self) -> list[tuple[str, draw.RGB]]:
        return draw.feed_key(self.history)


class SubscriptionCharts(ChartPane):
    """Checkpoint vs head per subscription (the backlog)."""

    CHART = "subscriptions"

    def draw_full(self, plots: list[PlotextPlot]) -> None:
        draw.subscription_plot(plots[0].plt, self.history)

    def draw_compact(self, width: int) -> Text:
        return draw.subscription_sparklines(self.history, width)

    def key(self) -> list[tuple[str, draw.RGB]]:
        return draw.subscription_key(self.history)
