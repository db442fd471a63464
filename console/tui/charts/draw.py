"""How the charts look: sparklines for a small terminal, plotext charts for a roomy one.

Pure functions of a :class:`~console.tui.charts.history.ChartHistory` and a size, so recorded
data draws the same picture every time.  A sparkline has one column per slice of the window,
the mean of the slice's samples, scaled from the lowest column to the highest; a slice without a
sample stays blank (a node down, a feed not yet counted), and a slice holding an election or a
node going down is coloured.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual_plotext.plot import Plot

from console.ops.formatting import latency_text
from console.tui.charts.history import ChartHistory, Mark, Metric
from console.tui.feed.lines import type_style

BARS = "▁▂▃▄▅▆▇█"
MARK_STYLES = {"election": "bold black on yellow", "down": "bold white on red"}
# Plotext's named colours follow the app's theme; these stay what they say.
RGB = tuple[int, int, int]
PLOT_MARK_COLOURS: dict[str, RGB] = {"election": (255, 200, 0), "down": (230, 40, 60)}
# The lines: none of them yellow or red, which mark elections and nodes down.
LINE_COLOURS: tuple[RGB, ...] = (
    (80, 200, 120),
    (80, 190, 255),
    (200, 120, 255),
    (240, 240, 240),
    (120, 140, 255),
    (160, 220, 60),
)
HEAD_COLOUR: RGB = (240, 240, 240)
MARKER = "braille"  # thin lines: the finest of plotext's markers
TITLES: dict[Metric, str] = {
    "commit": "commit rate (entries/s)",
    "lag": "lag (entries)",
    "probe": "probe latency (ms)",
}
SHORT: dict[Metric, str] = {"commit": "commit/s", "lag": "lag", "probe": "probe"}
SPARK_MIN = 6  # narrower than this a sparkline says nothing


def sparkline(
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    width: int,
    marks: Sequence[Mark] = (),
) -> Text:
    """``points`` from ``start`` to ``end`` in ``width`` columns, scaled to their largest."""
    width = max(1, width)
    step = (end - start) / width
    sums = [0.0] * width
    counts = [0] * width
    for at, value in points:
        if start <= at <= end:
            index = min(width - 1, int((at - start) / step))
            sums[index] += value
            counts[index] += 1
    columns = [total / count if count else None for total, count in zip(sums, counts, strict=True)]
    known = [mean for mean in columns if mean is not None]
    bottom, top = (min(known), max(known)) if known else (0.0, 0.0)
    styles: dict[int, str] = {}
    for mark in marks:
        if start <= mark.at <= end:
            column = min(width - 1, int((mark.at - start) / step))
            # A node down outweighs an election in the same slice: it is why there was one.
            if styles.get(column) != MARK_STYLES["down"]:
                styles[column] = MARK_STYLES[mark.kind]
    text = Text()
    for index, slot in enumerate(columns):
        if slot is None:
            text.append("│" if index in styles else " ", styles.get(index, "").split(" on ")[-1])
        else:
            if top > bottom:
                level = round((slot - bottom) / (top - bottom) * (len(BARS) - 1))
            else:  # flat: halfway up, or at the bottom when it is flat at nothing
                level = len(BARS) // 2 - 1 if top > 0 else 0
            text.append(BARS[level], styles.get(index, ""))
    return text


def legend(what: str, marks: bool = False) -> Text:
    """The line above a chart's sparklines: what they show (and the marks' colours)."""
    text = Text(f"last 5 min · {what}", "dim")
    if marks:
        text.append(" · ")
        text.append(" election ", MARK_STYLES["election"])
        text.append(" ")
        text.append(" node down ", MARK_STYLES["down"])
    return text


def _value(metric: Metric, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "probe":
        return latency_text(value)
    return f"{value:.0f}" if metric == "lag" or value >= 10 else f"{value:.1f}"


def cluster_sparklines(history: ChartHistory, width: int) -> Text:
    """Per node, one line: its commit rate, lag and probe latency as sparklines."""
    end = history.clock()
    start = end - history.window
    name_width = max([len(node) for node in history.nodes] or [0])
    # Per metric: a label, the sparkline and its newest value (up to 7 characters).
    fixed = name_width + sum(len(SHORT[m]) + 3 + 7 for m in SHORT)
    spark = max(SPARK_MIN, (width - fixed) // len(SHORT))
    lines = [legend("per node", marks=True)]
    for node, series in history.nodes.items():
        line = Text(node.ljust(name_width))
        for metric, label in SHORT.items():
            points = series[metric].since(start)
            line.append(f" {label} ", "dim")
            line.append_text(sparkline(points, start, end, spark, history.marks))
            line.append(f" {_value(metric, points[-1][1] if points else None):<6}")
        lines.append(line)
    return Text("\n").join(lines)


def feed_sparklines(history: ChartHistory, width: int) -> Text:
    """Per event type, one line: its events per second as a sparkline."""
    end = history.clock()
    start = end - history.window
    if not history.event_types:
        return Text("events per second by type: none counted yet (the feed is empty)", "dim")
    name_width = max(len(name) for name in history.event_types)
    spark = max(SPARK_MIN, width - name_width - 12)
    lines = [legend("events per second by event type (of the feed's sources)")]
    for name, series in sorted(history.event_types.items()):
        points = series.since(start)
        latest = points[-1][1] if points else 0.0
        line = Text(name.ljust(name_width), type_style(name))
        line.append(" ")
        line.append_text(sparkline(points, start, end, spark))
        line.append(f" {latest:6.1f}/s")
        lines.append(line)
    return Text("\n").join(lines)


def subscription_sparklines(history: ChartHistory, width: int) -> Text:
    """Per subscription, one line: its backlog (the head minus its checkpoint) over time."""
    end = history.clock()
    start = end - history.window
    if not history.backlogs:
        return Text("backlog per subscription: no subscriptions yet", "dim")
    head = history.head.latest
    name_width = max(len(name) for name in history.backlogs)
    spark = max(SPARK_MIN, width - name_width - 36)
    lines = [legend(f"backlog: the store's head ({_whole(head)}) minus each checkpoint")]
    for name, series in sorted(history.backlogs.items()):
        points = series.since(start)
        checkpoint = history.checkpoints[name].latest
        line = Text(name.ljust(name_width))
        line.append(" ")
        line.append_text(sparkline(points, start, end, spark))
        backlog = _whole(points[-1][1] if points else None)
        line.append(f" backlog {backlog:>6} · checkpoint {_whole(checkpoint):>6}")
        lines.append(line)
    return Text("\n").join(lines)


def _whole(value: float | None) -> str:
    return "-" if value is None else str(int(value))


# -- plotext charts ---------------------------------------------------------------------------


def _axes(plt: Plot, title: str, history: ChartHistory) -> None:
    """A fresh chart of the last five minutes: seconds before now along the bottom."""
    plt.clear_figure()
    plt.title(title)
    plt.xlim(-history.window, 0)
    plt.xticks([-300, -240, -180, -120, -60, 0], ["-5m", "-4m", "-3m", "-2m", "-1m", "now"])


def _line(plt: Plot, points: Sequence[tuple[float, float]], now: float, *, color: RGB) -> None:
    # No label: plotext would draw its legend over the plot's top-left, hiding the lines'
    # first seconds; the pane's border names them instead (``key``).
    if points:
        xs = [at - now for at, _ in points]
        plt.plot(xs, [value for _, value in points], color=color, marker=MARKER)


def _coloured(names: Sequence[str]) -> list[tuple[str, RGB]]:
    """Each series' line colour, in the order the charts draw them."""
    return [(name, LINE_COLOURS[index % len(LINE_COLOURS)]) for index, name in enumerate(names)]


def key_lines(series: Sequence[tuple[str, RGB]], width: int) -> list[Text]:
    """The lines named, each in its colour (``━ node1  ━ node2``), packed into lines of at most
    ``width`` cells; a name is never split, and one longer than ``width`` gets a line of its
    own (the widget cuts it)."""
    lines: list[Text] = []
    line = Text()
    for name, (red, green, blue) in series:
        colour = f"rgb({red},{green},{blue})"
        entry = Text.assemble(("━ ", colour), (name, f"bold {colour}"))
        if line and line.cell_len + 2 + entry.cell_len > width:
            lines.append(line)
            line = Text()
        if line:
            line.append("  ")
        line.append_text(entry)
    return [*lines, line] if line else lines


def cluster_key(history: ChartHistory) -> list[tuple[str, RGB]]:
    """The cluster charts' lines: a node each."""
    return _coloured(list(history.nodes))


def feed_key(history: ChartHistory) -> list[tuple[str, RGB]]:
    """The feed chart's lines: an event type each."""
    return _coloured(sorted(history.event_types))


def subscription_key(history: ChartHistory) -> list[tuple[str, RGB]]:
    """The subscriptions chart's lines: the store's head and a checkpoint each."""
    return [("head", HEAD_COLOUR), *_coloured(sorted(history.checkpoints))]


def cluster_plot(plt: Plot, history: ChartHistory, metric: Metric) -> None:
    """One metric for every node, a line each, with elections and nodes down as vertical
    lines (yellow, red)."""
    now = history.clock()
    start = now - history.window
    _axes(plt, TITLES[metric], history)
    top = 0.0
    for node, colour in cluster_key(history):
        points = history.nodes[node][metric].since(start)
        top = max([top, *(value for _, value in points)])
        _line(plt, points, now, color=colour)
    for mark in history.marks:
        if mark.at >= start:
            plt.vline(mark.at - now, PLOT_MARK_COLOURS[mark.kind])
    plt.ylim(0, max(top * 1.1, 1.0))


def feed_plot(plt: Plot, history: ChartHistory) -> None:
    """Events per second, a line per event type."""
    now = history.clock()
    start = now - history.window
    _axes(plt, "events per second by event type (of the feed's sources)", history)
    top = 0.0
    for name, colour in feed_key(history):
        points = history.event_types[name].since(start)
        top = max([top, *(value for _, value in points)])
        _line(plt, points, now, color=colour)
    plt.ylim(0, max(top * 1.1, 1.0))


def subscription_plot(plt: Plot, history: ChartHistory) -> None:
    """The store's head and each subscription's checkpoint: the gap between is the backlog."""
    now = history.clock()
    start = now - history.window
    _axes(plt, "checkpoint vs head (the gap: the backlog)", history)
    _line(plt, history.head.since(start), now, color=HEAD_COLOUR)
    for name, colour in _coloured(sorted(history.checkpoints)):
        _line(plt, history.checkpoints[name].since(start), now, color=colour)


def marks_text(history: ChartHistory) -> str:
    """The marks inside the window, newest last: what the vertical lines are."""
    start = history.start()
    return " · ".join(mark.text for mark in history.marks if mark.at >= start)
