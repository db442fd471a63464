"""How feed lines look: the source's name, then the ``SEEN``/``RECEIVED`` line, coloured.

The operations layer hands the dashboard the same lines the menu shell prints (docs/CONSOLE.md), so
the event type is found in the line's text: ``SEEN ["greenhouse-1:temperature_measured:v1 ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

# The event type sits between the stream id and the version: "stream:type (vN)" or "v(N)".
_EVENT_TYPE = re.compile(r'"[^":]*:(?P<type>[a-z_]+:v\d+) (?:\(v\d+\)|v\(\d+\))')
# A colour per kind of greenhouse event, so a glance tells measurements from switching.
_FAMILY_STYLES = (
    ("initialized", "bold white"),
    ("_measured", "cyan"),
    ("desired_", "magenta"),
    ("_deactivated", "yellow"),
    ("_activated", "green"),
)


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One line of the feed and the observer or consumer it came from."""

    source: str
    text: str

    def matches(self, needle: str) -> bool:
        """Whether the ``/`` filter keeps this line (case-insensitive, source included)."""
        return not needle or needle in self.text.lower() or needle in self.source.lower()


def event_type_of(line: str) -> str | None:
    """The event type named in a ``SEEN``/``RECEIVED`` line, if it has one."""
    match = _EVENT_TYPE.search(line)
    return match.group("type") if match else None


def type_style(event_type: str) -> str:
    """The colour of an event type."""
    for marker, style in _FAMILY_STYLES:
        if marker in event_type:
            return style
    return "white"


def render_body(text: str) -> Text:
    """A line's text: the prefix bold, the event type coloured; errors red, warnings yellow."""
    if text.startswith("❌"):
        return Text(text, style="bold red")
    if text.startswith("⚠️"):
        return Text(text, style="yellow")
    body = Text(text)
    match = _EVENT_TYPE.search(text)
    if match:
        body.stylize(type_style(match.group("type")), match.start("type"), match.end("type"))
    prefix_end = text.find(" [")
    if prefix_end > 0:
        body.stylize("bold", 0, prefix_end)
    return body


def source_width(sources: list[str]) -> int:
    """The source column's width: the longest name, never cut."""
    return max((len(source) for source in sources), default=0)


def render_lines(lines: list[FeedLine], width: int, note: Text | None = None) -> Table:
    """A batch of lines as one renderable: the source column ``width`` wide, each line's text
    wrapped under itself, so a long line is read whole and the sources stay aligned."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=width, no_wrap=True, style="dim")
    grid.add_column(overflow="fold")
    if note is not None:
        grid.add_row("", note)
    for line in lines:
        grid.add_row(Text(line.source), render_body(line.text))  # a name as typed, not markup
    return grid
